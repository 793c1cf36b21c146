package probe

// activateResponse is Plugin.Activate's answer.
type activateResponse struct {
	Implements []string
}

// pluginHandshake is Plugin.Activate, the handshake that lists what a
// plugin implements.
func pluginHandshake() interfaceSpec {
	return interfaceSpec{
		iface: &Interface{
			Name: "Plugin", Implements: "", Type: "",
			Doc: "Handshake every plugin built with go-plugins-helpers answers (dockerd sends it only to legacy plugins)",
		},
		errField: "",
		methods: []methodSpec{{
			name: "Activate", doc: "List the interfaces the plugin implements",
			resp: activateResponse{}, exResp: `{"Implements":["VolumeDriver"]}`,
			annotate: func(_, resp *Schema) { req(resp, "Implements") },
		}},
	}
}

package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/plugin"
)

// ErrNoTerminal is the error for a question that needs an answer when
// stdin is not a terminal: nobody is there to answer, so plugdbg refuses
// rather than read a script's input as consent.
var ErrNoTerminal = errors.New("stdin is not a terminal to answer on")

// Prompt asks yes/no questions the way the docker CLI does.
type Prompt struct {
	In  io.Reader
	Out io.Writer
	// TTY says whether In is a terminal; without one every question fails
	// with ErrNoTerminal.
	TTY bool

	r *bufio.Reader
}

// Confirm prints "question [y/N] " and reports whether the answer is y or
// Y; anything else, end of input included, is no.
func (p *Prompt) Confirm(question string) (bool, error) {
	if !p.TTY {
		return false, fmt.Errorf("%s: %w", question, ErrNoTerminal)
	}
	fmt.Fprintf(p.Out, "%s [y/N] ", question)
	if p.r == nil {
		p.r = bufio.NewReader(p.In)
	}
	line, err := p.r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if errors.Is(err, io.EOF) {
		fmt.Fprintln(p.Out)
	}
	answer := strings.TrimSpace(line)
	return answer == "y" || answer == "Y", nil
}

// AcceptPrivileges lists the privileges a plugin asks for with Docker's
// wording and asks whether they are granted. Without a terminal it lists
// them all the same, so that the user learns what to grant, and refuses.
func (p *Prompt) AcceptPrivileges(remote string, privs plugin.Privileges) (bool, error) {
	fmt.Fprintf(p.Out, "Plugin %q is requesting the following privileges:\n", remote)
	for _, pr := range privs {
		fmt.Fprintf(p.Out, " - %s: %v\n", pr.Name, pr.Value)
	}
	if !p.TTY {
		return false, fmt.Errorf("permission denied for plugin %s: it asks for privileges and %w to grant them (use --grant-all-permissions)", remote, ErrNoTerminal)
	}
	return p.Confirm("Do you grant the above permissions?")
}

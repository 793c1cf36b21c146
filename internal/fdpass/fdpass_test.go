package fdpass

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestFiles passes two pipes' ends across a real socket pair, with a
// control message of another kind beside them, and reads them back.
func TestFiles(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	r1, w1, err := os.Pipe()
	require.NoError(t, err)
	defer r1.Close()
	defer w1.Close()
	r2, w2, err := os.Pipe()
	require.NoError(t, err)
	defer r2.Close()
	defer w2.Close()

	require.NoError(t, unix.Sendmsg(pair[0], []byte("x"), unix.UnixRights(int(w1.Fd()), int(w2.Fd())), nil, 0))
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(2*4))
	_, oobn, _, _, err := unix.Recvmsg(pair[1], buf, oob, unix.MSG_CMSG_CLOEXEC)
	require.NoError(t, err)
	creds := unix.UnixCredentials(&unix.Ucred{Pid: int32(os.Getpid())})
	files, err := Files(append(creds, oob[:oobn]...), func(fd int) string { return "passed" })
	require.NoError(t, err)
	require.Len(t, files, 2)
	for i, f := range files {
		assert.Equal(t, "passed", f.Name())
		_, err := f.Write([]byte{byte('a' + i)})
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	got := make([]byte, 1)
	_, err = r1.Read(got)
	require.NoError(t, err)
	assert.Equal(t, "a", string(got), "the first file is the first end sent")
	_, err = r2.Read(got)
	require.NoError(t, err)
	assert.Equal(t, "b", string(got))

	files, err = Files(nil, func(int) string { return "" })
	assert.NoError(t, err)
	assert.Empty(t, files)
	// A header that claims more than the buffer holds.
	bad := unix.UnixCredentials(&unix.Ucred{})
	bad[0] = 0xff
	_, err = Files(bad, func(int) string { return "" })
	assert.ErrorContains(t, err, "control message")
}

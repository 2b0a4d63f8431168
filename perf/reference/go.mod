// Built in GOPATH mode (GO111MODULE=off, see build.sh), never as a module:
// this file only marks the code as "new", so that Go's minimal module
// compatibility resolves github.com/pion/webrtc/v3 to Debian's sources.
module pion-sfu

go 1.19

// livesfu-load: the WebRTC load generator (see LoadCommand).
LoadCommand.main()

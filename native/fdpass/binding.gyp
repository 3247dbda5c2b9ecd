{
  "targets": [
    {
      "target_name": "fdpass",
      "sources": ["fdpass.c", "spawn.c", "watch.c", "termios.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}

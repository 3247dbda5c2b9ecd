{
  "targets": [
    {
      "target_name": "fdpass",
      "sources": ["fdpass.c", "spawn.c", "watch.c", "termios.c", "trim.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}

{
  "targets": [
    {
      "target_name": "fdpass",
      "sources": ["fdpass.c", "spawn.c", "beneath.c", "strings.c", "watch.c", "termios.c", "trim.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}

{
  "targets": [
    {
      "target_name": "syscalls",
      "sources": ["module.c", "passing.c", "sockets.c", "descriptors.c", "process.c", "spawn.c", "beneath.c", "strings.c", "watch.c", "termios.c", "trim.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}

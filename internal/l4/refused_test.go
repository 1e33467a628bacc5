package l4

import "syscall"

func syscallRefused() error { return syscall.ECONNREFUSED }

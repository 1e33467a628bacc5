package l4

import (
	"errors"
	"syscall"
)

func syscallRefused() error { return syscall.ECONNREFUSED }

func errorsIs(err, target error) bool { return errors.Is(err, target) }

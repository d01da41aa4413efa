package rawconn_test

import "syscall"

var syscallECONNRESET = syscall.ECONNRESET

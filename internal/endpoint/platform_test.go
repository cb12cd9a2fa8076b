package endpoint

import "runtime"

var isLinux = runtime.GOOS == "linux"

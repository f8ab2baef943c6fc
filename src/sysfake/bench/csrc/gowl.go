// gowl.go - the Go workload of the sysfake benchmark harness (built with
// GO111MODULE=off). It stats PATH N times and prints the size it saw and
// its GOMAXPROCS (workload go-p2 sets it); the harness runs it many times,
// so Go's startup (threads, signal setup, its own path syscalls) is part of
// what is measured.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gowl PATH N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var size int64 = -1
	for i := 0; i < n; i++ {
		fi, err := os.Stat(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		size = fi.Size()
	}
	fmt.Printf("gowl n=%d procs=%d size=%d\n", n, runtime.GOMAXPROCS(0), size)
}

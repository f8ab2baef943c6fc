// goread: a multithreaded Go tracee.
//
//	goread PATH N CAT
//
// N goroutines, each locked to its own OS thread, read PATH with os.ReadFile
// at the same time. Then exec.Command(CAT, PATH) runs. Output:
//
//	goroutines ok=K/N content="<Go-quoted content>"
//	cat: "<Go-quoted output>"
//
// plus one "goroutine I: ..." line per mismatch. Exit status 1 when any
// goroutine disagreed with the first one or cat failed.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: goread PATH N CAT")
		os.Exit(2)
	}
	path := os.Args[1]
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "bad N")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(8)

	results := make([]string, n)
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer done.Done()
			runtime.LockOSThread()
			start.Wait()
			b, err := os.ReadFile(path)
			results[i] = string(b)
			errs[i] = err
		}(i)
	}
	start.Done()
	done.Wait()

	failed := false
	ok := 0
	for i := 0; i < n; i++ {
		switch {
		case errs[i] != nil:
			fmt.Printf("goroutine %d: %v\n", i, errs[i])
			failed = true
		case results[i] != results[0]:
			fmt.Printf("goroutine %d: %q\n", i, results[i])
			failed = true
		default:
			ok++
		}
	}
	fmt.Printf("goroutines ok=%d/%d content=%q\n", ok, n, results[0])

	out, err := exec.Command(os.Args[3], path).Output()
	fmt.Printf("cat: %q\n", string(out))
	if err != nil {
		fmt.Printf("cat error: %v\n", err)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
}

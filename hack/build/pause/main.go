// Command pause is the pod sandbox ("infra") process of the local test cluster:
// it holds the pod's namespaces open, reaps orphaned children (it is PID 1 when
// the pod shares its PID namespace) and exits cleanly on SIGINT/SIGTERM.
// It replaces registry.k8s.io/pause, which cannot be pulled here.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

// The image tag and cache key (hack/lib.sh reads this line).
const version = "1.0"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		os.Stdout.WriteString("pause (modelops) " + version + "\n")
		return
	}
	if os.Getpid() != 1 {
		os.Stderr.WriteString("Warning: pause should be the first process\n")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		switch sig {
		case syscall.SIGCHLD:
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		default:
			os.Stderr.WriteString("Shutting down, got signal\n")
			os.Exit(0)
		}
	}
}

// Command coredns is CoreDNS with only the plugins the local cluster's Corefile uses
// (hack/cluster/config.sh: bind, errors, health, ready, kubernetes, cache, reload),
// instead of upstream's main package, which compiles in every plugin (the clouds' SDKs
// among them) for a several times longer cold build.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// The plugins' order in a server block is this list's, in upstream's plugin.cfg order.
func init() {
	dnsserver.Directives = []string{"reload", "bind", "ready", "health", "errors", "cache", "kubernetes"}
}

func main() {
	coremain.Run()
}

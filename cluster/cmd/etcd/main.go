// Command etcd is the upstream etcd server, built in the same module as
// kube-apiserver so both share one pinned dependency graph (and one compile of
// grpc, protobuf, otel, ...). The etcd version is the one the pinned
// Kubernetes release is tested against.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

// Command cnitool is a minimal CNI runtime built on libcni, used by the
// sysfake tests to drive plugins exactly as containerd's go-cni does.
//
// Usage:
//
//	cnitool add|check|del CONFLIST NETNS
//	cnitool validate CONFLIST
//	cnitool version PLUGIN_TYPE
//
// Environment: CNI_PATH (plugin search path, ':'-separated), CNI_CONTAINERID,
// CNI_IFNAME (default eth0), CNI_ARGS ("K=V;K2=V2"), CAP_ARGS (JSON object of
// capability arguments) and CNI_CACHE_DIR (libcni result cache).
// On error it prints the error to stderr; when the error is a CNI error
// result it also prints that JSON on stdout, and exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func fail(err error) {
	var e *types.Error
	if errors.As(err, &e) {
		out, _ := json.Marshal(e)
		fmt.Println(string(out))
	}
	fmt.Fprintln(os.Stderr, "cnitool:", err)
	os.Exit(1)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cnitool add|check|del CONFLIST NETNS | validate CONFLIST | version TYPE")
	os.Exit(2)
}

func parseArgs(s string) ([][2]string, error) {
	var out [][2]string
	if s == "" {
		return out, nil
	}
	for _, pair := range strings.Split(s, ";") {
		kv := strings.SplitN(pair, "=", 2)
		if len(kv) != 2 {
			return nil, fmt.Errorf("invalid CNI_ARGS pair %q", pair)
		}
		out = append(out, [2]string{kv[0], kv[1]})
	}
	return out, nil
}

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	cmd := os.Args[1]
	paths := filepath.SplitList(os.Getenv("CNI_PATH"))
	cacheDir := os.Getenv("CNI_CACHE_DIR")
	if cacheDir == "" {
		cacheDir = libcni.CacheDir
	}
	cninet := libcni.NewCNIConfigWithCacheDir(paths, cacheDir, nil)
	ctx := context.Background()

	if cmd == "version" {
		info, err := cninet.GetVersionInfo(ctx, os.Args[2])
		if err != nil {
			fail(err)
		}
		out, _ := json.Marshal(map[string]interface{}{"supportedVersions": info.SupportedVersions()})
		fmt.Println(string(out))
		return
	}

	list, err := libcni.ConfListFromFile(os.Args[2])
	if err != nil {
		fail(err)
	}
	if cmd == "validate" {
		caps, err := cninet.ValidateNetworkList(ctx, list)
		if err != nil {
			fail(err)
		}
		out, _ := json.Marshal(map[string]interface{}{"capabilities": caps})
		fmt.Println(string(out))
		return
	}
	if len(os.Args) < 4 {
		usage()
	}
	args, err := parseArgs(os.Getenv("CNI_ARGS"))
	if err != nil {
		fail(err)
	}
	capArgs := map[string]interface{}{}
	if s := os.Getenv("CAP_ARGS"); s != "" {
		if err := json.Unmarshal([]byte(s), &capArgs); err != nil {
			fail(err)
		}
	}
	ifName := os.Getenv("CNI_IFNAME")
	if ifName == "" {
		ifName = "eth0"
	}
	containerID := os.Getenv("CNI_CONTAINERID")
	if containerID == "" {
		containerID = "cnitool-" + filepath.Base(os.Args[3])
	}
	rt := &libcni.RuntimeConf{
		ContainerID:    containerID,
		NetNS:          os.Args[3],
		IfName:         ifName,
		Args:           args,
		CapabilityArgs: capArgs,
	}

	switch cmd {
	case "add":
		result, err := cninet.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := result.Print(); err != nil {
			fail(err)
		}
	case "check":
		if err := cninet.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "del":
		if err := cninet.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	default:
		usage()
	}
}

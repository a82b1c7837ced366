package config

import (
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestParseCluster(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"KUMO_ZONE": "b", "KUMO_PEERS": "10.0.0.2:6222, 10.0.0.3:6222"}[k]
	}
	c, err := Parse([]string{"--cluster-name", "prod", "--cluster-listen", "10.0.0.1:6222", "--node-id", "n1"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Cluster{NodeID: "n1", Zone: "b", Name: "prod", Listen: "10.0.0.1:6222", Peers: []string{"10.0.0.2:6222", "10.0.0.3:6222"}}
	if !reflect.DeepEqual(c.Cluster, want) || !c.Cluster.Clustered() {
		t.Fatalf("cluster: %+v, want %+v", c.Cluster, want)
	}
	c, err = Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.Cluster.Clustered() || c.Cluster.Replicas != 0 {
		t.Fatalf("default: %+v, %v", c.Cluster, err)
	}
	c, err = Parse([]string{"--nats-url", "nats://a:4222,tls://b:4222", "--nats-creds", "/x.creds", "--replicas", "3"}, func(string) string { return "" }, io.Discard)
	if err != nil || !c.Cluster.Clustered() || c.Cluster.Replicas != 3 {
		t.Fatalf("nats-url: %+v, %v", c.Cluster, err)
	}
	secret := func(k string) string { return map[string]string{EnvClusterSecret: "s3cret"}[k] }
	if _, err := Parse(nil, secret, io.Discard); err == nil || !strings.Contains(err.Error(), EnvClusterSecret) {
		t.Errorf("%s without --cluster-name: %v", EnvClusterSecret, err)
	}
	c, err = Parse([]string{"--cluster-name", "c", "--cluster-listen", "h:1"}, secret, io.Discard)
	if err != nil || c.Cluster.Secret != "s3cret" {
		t.Errorf("cluster secret: %q, %v", c.Cluster.Secret, err)
	}
	// With --nats-url the secret seals the keys the nodes share.
	if c, err = Parse([]string{"--nats-url", "nats://a:4222"}, secret, io.Discard); err != nil || c.Cluster.Secret != "s3cret" {
		t.Errorf("cluster secret with --nats-url: %q, %v", c.Cluster.Secret, err)
	}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--cluster-name", "a b", "--cluster-listen", "h:1"}, "cluster-name"},
		{[]string{"--cluster-name", "c"}, "cluster-listen"},
		{[]string{"--cluster-listen", "h:1"}, "cluster-listen"},
		{[]string{"--peers", "h:1"}, "peers"},
		{[]string{"--cluster-name", "c", "--cluster-listen", "h:1", "--peers", "nohost"}, "peers"},
		{[]string{"--cluster-name", "c", "--cluster-listen", "h:1", "--nats-url", "nats://x:1"}, "nats-url"},
		{[]string{"--nats-url", "http://x:1"}, "nats-url"},
		{[]string{"--nats-creds", "/x"}, "nats-creds"},
		{[]string{"--nats-url", "nats://x:1", "--nats-tls-cert", "/c"}, "nats-tls-cert"},
		{[]string{"--node-id", "a.b"}, "node-id"},
		{[]string{"--zone", "us east"}, "zone"},
		{[]string{"--replicas", "3"}, "replicas"},
		{[]string{"--nats-url", "nats://x:1", "--replicas", "9"}, "replicas"},
	} {
		if _, err := Parse(tc.args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("Parse(%v) accepted", tc.args)
		} else if !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("Parse(%v): %q does not name --%s", tc.args, err, tc.flag)
		}
	}
}

// Package image brings container images to Kumo for PackageType Image
// functions: it parses ImageUri values, resolves them to a manifest
// digest, pulls images and unpacks their layers into a per-digest root
// file system on local disk. Registries are spoken to with
// go-containerregistry (registry HTTP API v2; no Docker engine): plain
// HTTP for localhost, loopback, RFC 1918 and .local registries, HTTPS
// otherwise, anonymously (a bearer-token challenge is answered with an
// anonymous token). OCI image layouts are read from the server's disk,
// only under the directories Puller.LayoutDirs names.
//
// ImageUri forms:
//
//	host[:port]/repo[:tag]            a registry image (":latest" if no tag)
//	host[:port]/repo@sha256:<hex>     a registry image by digest
//	oci:/abs/layout[:tag]             an OCI layout; tag = the index's
//	                                  org.opencontainers.image.ref.name
//	oci:/abs/layout@sha256:<hex>      an OCI layout image by digest
//
// An index (multi-platform image) resolves to the image of the function's
// architecture (linux/amd64 for x86_64, linux/arm64 for arm64).
//
// Durability: this package keeps no state that must survive. The
// registry's function record (in JetStream) holds the ImageUri and the
// URI pinned to its digest; the unpacked roots under the data dir's
// image-cache are a node-local cache (Cache), rebuilt on any node that
// lacks one by pulling the pinned digest again from the registry or
// layout. A root is unpacked under a temporary name and renamed into
// place, so a present root is complete; leftovers of an interrupted
// unpacking are removed when the cache opens. Roots are never removed
// while the server runs (a function version keeps its digest).
//
// Unpacking treats every layer as hostile: whiteouts (.wh.<name>) and
// opaque directories (.wh..wh..opq) are applied by go-containerregistry's
// mutate.Extract, then every entry is written through an os.Root, so no
// name, symlink or hard link leads out of the root; device nodes and
// FIFOs are skipped, setuid and setgid bits and ownership dropped, and the
// bytes written are counted against the 10 GB limit as they are written.
//
// What it must never do: run anything from an image, follow a symlink of
// an image on the host, read a layout outside the allowed directories, use
// the server's own registry credentials (docker config, cloud helpers), or
// know about Lambda's wire errors (the registry maps Kind to them).
package image

// Package base holds what every sandbox driver does the same way: checking
// a Spec, turning a wait status into Stats fields and copying a sandbox's
// output. It never starts or isolates anything itself.
package base

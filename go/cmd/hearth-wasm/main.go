//go:build js

// Command hearth-wasm is the homeserver as it runs in a service worker or a
// headless Node peer: JS sets hearthStorage, starts this, and waits for hearthReady.
package main

func main() {}

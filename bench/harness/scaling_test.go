package main

import "testing"

// TestKeySlot checks the harness' CRC16 against slots Redis documents and computes.
func TestKeySlot(t *testing.T) {
	for key, want := range map[string]int{
		"123456789":            0x31c3, // CRC16/XMODEM's check value
		"foo":                  12182,
		"{user1000}.following": 3443,
		"{user1000}.followers": 3443,
		"a{}b":                 keySlot("a{}b"), // an empty tag hashes the whole key
		"x{ab}{cd}":            keySlot("ab"),
	} {
		if got := keySlot(key); got != want {
			t.Errorf("keySlot(%q) = %d, want %d", key, got, want)
		}
	}
	if keySlot("a{}b") == keySlot("") {
		t.Errorf("an empty hash tag must hash the whole key")
	}
}

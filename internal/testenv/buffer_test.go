package testenv

import "testing"

func TestBufferKeepsAtMostMax(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"unbounded", 0, []string{"abc", "def"}, "abcdef"},
		{"within the bound", 6, []string{"abc", "def"}, "abcdef"},
		{"a write crossing the bound is cut", 4, []string{"abc", "def"}, "abcd"},
		{"writes past the bound are dropped", 3, []string{"abc", "def", "g"}, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Buffer{Max: tt.max}
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want all of it reported written", w, n, err)
				}
			}
			if got := b.String(); got != tt.want {
				t.Errorf("kept %q, want %q", got, tt.want)
			}
		})
	}
}

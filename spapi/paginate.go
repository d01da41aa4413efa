package spapi

import (
	"context"
	"iter"
)

// PageFunc fetches one page: given the token of the page (empty for the
// first), it returns the page's items and the next token (empty at the end).
type PageFunc[T any] func(ctx context.Context, token string) (items []T, next string, err error)

// Paginate walks every page as a Go iterator. Each page is a fresh call
// through the chain, so a token that expires mid-run is refreshed before the
// next page and the caller never sees it. Iteration stops at the first error,
// which is yielded with the zero T.
func Paginate[T any](ctx context.Context, fetch PageFunc[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		token := ""
		seen := map[string]bool{}
		for {
			items, next, err := fetch(ctx, token)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" || seen[next] {
				// A repeated token would loop forever; Amazon never sends one.
				return
			}
			seen[next] = true
			token = next
		}
	}
}

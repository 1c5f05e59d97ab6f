package main

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/concord-go/concord"
)

// backoffStudy compares concord's default conflict backoff with the
// exponential backoff it replaced, under contention: runs runs of
// each setting at each writer count, in alternating order so that drift on
// a shared machine falls on both, each run a fresh server with writers
// each making 5 increments through a client of their own (the 412 mode).
// It prints the medians of requests per update and of each run's p99, and
// a two-sided Mann-Whitney U test of each.
func backoffStudy(runs int) {
	settings := []struct {
		name   string
		policy concord.ConflictPolicy
	}{
		{"exponential 10ms x2 ±50%, at most 1s", concord.ConflictPolicy{NewBackOff: func() backoff.BackOff {
			return backoff.NewExponentialBackOff(backoff.WithInitialInterval(10*time.Millisecond), backoff.WithMultiplier(2),
				backoff.WithRandomizationFactor(0.5), backoff.WithMaxInterval(time.Second), backoff.WithMaxElapsedTime(0))
		}}},
		{"decorrelated jitter 10ms, at most 500ms (concord's default)", concord.ConflictPolicy{}},
	}
	fmt.Printf("## Conflict backoff under contention: %d runs of each setting\n\n", runs)
	fmt.Println("| writers | backoff | failed calls | requests per update, median [IQR] | p99 per update, median [IQR] |")
	fmt.Println("|---:|---|---:|---|---|")
	for _, writers := range []int{32, 128} {
		perUpdate := make([][]float64, len(settings))
		p99 := make([][]float64, len(settings))
		failed := make([]int64, len(settings))
		for run := range runs {
			for k := range settings {
				i := k
				if run%2 == 1 {
					i = len(settings) - 1 - k
				}
				r := runContention(nil, "concord, client per writer", writers, 5, settings[i].policy)
				if r.final != r.succeeded {
					panic(fmt.Sprintf("lost updates: %d stored for %d made", r.final, r.succeeded))
				}
				perUpdate[i] = append(perUpdate[i], r.perUpdate)
				p99[i] = append(p99[i], float64(r.latencies[min(len(r.latencies)-1, len(r.latencies)*99/100)]))
				failed[i] += r.failed
			}
		}
		for i, s := range settings {
			fmt.Printf("| %d | %s | %d | %s | %s |\n", writers, s.name, failed[i], quartiles(perUpdate[i], "%.2f"), quartiles(p99[i], "dur"))
		}
		for i := 1; i < len(settings); i++ {
			fmt.Printf("| %d | %s vs %s | | %+.0f%% of the median, p=%.3f | %+.0f%% of the median, p=%.3f |\n", writers, ordinal[i], ordinal[0],
				100*(median(perUpdate[i])/median(perUpdate[0])-1), mannWhitney(perUpdate[0], perUpdate[i]),
				100*(median(p99[i])/median(p99[0])-1), mannWhitney(p99[0], p99[i]))
		}
	}
	fmt.Println()
}

var ordinal = []string{"first", "second"}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func quartiles(xs []float64, format string) string {
	f := func(x float64) string {
		if format == "dur" {
			return time.Duration(x).Round(time.Millisecond).String()
		}
		return fmt.Sprintf(format, x)
	}
	return fmt.Sprintf("%s [%s-%s]", f(median(xs)), f(quantile(xs, 0.25)), f(quantile(xs, 0.75)))
}

// mannWhitney returns the two-sided p-value of the Mann-Whitney U test of
// a and b, by the normal approximation with a correction for ties (fine
// from about 8 values a side).
func mannWhitney(a, b []float64) float64 {
	type v struct {
		x    float64
		left bool
	}
	all := make([]v, 0, len(a)+len(b))
	for _, x := range a {
		all = append(all, v{x, true})
	}
	for _, x := range b {
		all = append(all, v{x, false})
	}
	slices.SortFunc(all, func(p, q v) int {
		switch {
		case p.x < q.x:
			return -1
		case p.x > q.x:
			return 1
		}
		return 0
	})
	n1, n2, n := float64(len(a)), float64(len(b)), float64(len(all))
	var rankSum, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].x == all[i].x {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j, averaged
		for k := i; k < j; k++ {
			if all[k].left {
				rankSum += rank
			}
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	u := rankSum - n1*(n1+1)/2
	mean := n1 * n2 / 2
	sd := math.Sqrt(n1 * n2 / 12 * (n + 1 - ties/(n*(n-1))))
	if sd == 0 {
		return 1
	}
	z := (math.Abs(u-mean) - 0.5) / sd
	return min(1, math.Erfc(max(z, 0)/math.Sqrt2))
}

package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/concord-go/concord"
)

// backoffStudy compares concord's default conflict backoff with the
// exponential backoff it replaced, under contention, idle and with a CPU
// hog: runs runs of each setting at each writer count, each run a fresh
// server with writers each making 5 increments through a client of their
// own (the 412 mode). It prints the medians of requests per update and of
// each run's p99 with their interquartile ranges, and the ratio of the
// medians with a bootstrap interval and a Mann-Whitney p.
func backoffStudy(runs int) {
	settings := []struct {
		name   string
		policy concord.ConflictPolicy
	}{
		{"exponential 10ms x2 ±50%, at most 1s", concord.ConflictPolicy{NewBackoff: func() concord.Backoff {
			return concord.Exponential(10*time.Millisecond, time.Second, 0.5)
		}}},
		{"decorrelated jitter 10ms, at most 500ms (concord's default)", concord.ConflictPolicy{}},
	}
	fmt.Printf("## Conflict backoff under contention: %d runs of each setting, idle and with a CPU hog\n\n", runs)
	fmt.Println("Medians with their interquartile range; for the second setting against the first, the ratio of medians with a 95% bootstrap interval and a two-sided Mann-Whitney p.")
	fmt.Println()
	fmt.Println("| condition | writers | backoff | failed calls | lost updates | requests per update, median [IQR] | p99 per update, median [IQR] |")
	fmt.Println("|---|---:|---|---:|---:|---|---|")
	for _, loaded := range []bool{false, true} {
		underLoad(loaded, func() {
			for _, writers := range []int{32, 128} {
				studyRuns(conditions[loaded], writers, runs, settings)
			}
		})
	}
	fmt.Println()
}

// studyRuns runs runs runs of each setting at one writer count, in
// alternating order so that drift on a shared machine falls on both, and
// prints their rows.
func studyRuns(condition string, writers, runs int, settings []struct {
	name   string
	policy concord.ConflictPolicy
}) {
	perUpdate := make([][]float64, len(settings))
	p99 := make([][]float64, len(settings))
	failed := make([]int64, len(settings))
	lost := make([]int64, len(settings))
	for run := range runs {
		for k := range settings {
			i := k
			if run%2 == 1 {
				i = len(settings) - 1 - k
			}
			r := runContention(nil, "concord, client per writer", writers, 5, settings[i].policy)
			perUpdate[i] = append(perUpdate[i], r.perUpdate)
			p99[i] = append(p99[i], float64(r.latencies[min(len(r.latencies)-1, len(r.latencies)*99/100)]))
			failed[i] += r.failed
			lost[i] += r.succeeded - r.final
		}
	}
	for i, s := range settings {
		fmt.Printf("| %s | %d | %s | %d | %d | %s | %s |\n", condition, writers, s.name, failed[i], lost[i], quartiles(perUpdate[i], "%.2f"), quartiles(p99[i], "dur"))
	}
	for i := 1; i < len(settings); i++ {
		fmt.Printf("| %s | %d | %s / %s | | | %s, p=%.3f | %s, p=%.3f |\n", condition, writers, ordinal[i], ordinal[0],
			medianRatio(perUpdate[i], perUpdate[0]), mannWhitney(perUpdate[0], perUpdate[i]),
			medianRatio(p99[i], p99[0]), mannWhitney(p99[0], p99[i]))
	}
}

// medianRatio returns the ratio of the medians of a and b with a 95%
// percentile bootstrap interval (10,000 resamples of each side).
func medianRatio(a, b []float64) string {
	rnd := rand.New(rand.NewPCG(3, 4)) // fixed: the same data give the same interval
	ratios := make([]float64, 10000)
	sa, sb := make([]float64, len(a)), make([]float64, len(b))
	for k := range ratios {
		for i := range sa {
			sa[i] = a[rnd.IntN(len(a))]
		}
		for i := range sb {
			sb[i] = b[rnd.IntN(len(b))]
		}
		ratios[k] = median(sa) / median(sb)
	}
	return fmt.Sprintf("%.3f [%.3f-%.3f]", median(a)/median(b), quantile(ratios, 0.025), quantile(ratios, 0.975))
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

package histories

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Check checks that the history is linearizable against Model within
// timeout. On a violation it writes porcupine's visualization to
// vizPath and describes the smallest item's history that breaks it.
func Check(records []Record, limits Limits, vizPath string, timeout time.Duration) (porcupine.CheckResult, string) {
	ops := make([]porcupine.Operation, 0, len(records))
	if limits.Reapplied {
		records = reapplied(records)
	}
	for _, r := range reads(records) {
		if r.Input.Kind == KindCreate {
			continue // checked by CheckCreates
		}
		ops = append(ops, porcupine.Operation{ClientId: r.Worker, Input: r.Input, Output: r.Output, Call: r.Call, Return: r.Return})
	}
	model := Model(limits)
	result, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	if result != porcupine.Illegal {
		return result, ""
	}
	if err := porcupine.VisualizePath(model, info, vizPath); err != nil {
		fmt.Fprintln(os.Stderr, "histories: writing the visualization:", err)
	}
	return result, smallestViolation(model, ops)
}

// reads returns the records with each All turned into what it is to the
// model: a Get of every item at some time during the call, which found the
// document listed that a write to that item wrote (a write's token names
// it), or found nothing. An All that failed read nothing the model knows.
func reads(records []Record) []Record {
	itemOf := map[string]string{} // a write's token, to its item
	var items []string
	for _, r := range records {
		if r.Input.Kind == KindCreate || r.Input.Kind == KindAll {
			continue
		}
		if !slices.Contains(items, r.Input.Item) {
			items = append(items, r.Input.Item)
		}
		itemOf[r.Input.Token] = r.Input.Item
	}
	var out []Record
	for _, r := range records {
		if r.Input.Kind != KindAll {
			out = append(out, r)
			continue
		}
		if r.Output.Outcome != OK {
			continue
		}
		for _, item := range items {
			get := r
			get.Input = Input{Kind: KindGet, Item: item, Token: r.Input.Token}
			get.Output = Output{Outcome: NotFound, Err: "not listed by All"}
			for _, d := range r.Output.Listed {
				if itemOf[d.W] == item {
					get.Output = Output{Outcome: OK, Doc: d}
				}
			}
			out = append(out, get)
		}
	}
	return out
}

// reapplied returns the records with, for each Update, maxReapplied-1
// earlier applications of its mutate (Limits.Reapplied): each an Update of
// unknown outcome during the call, which may have taken effect or not.
func reapplied(records []Record) []Record {
	out := slices.Clone(records)
	for _, r := range records {
		if r.Input.Kind != KindUpdate {
			continue
		}
		earlier := r
		earlier.Output = Output{Outcome: Unknown, Err: "an earlier attempt of " + r.Input.Token + ", its answer lost, may have applied"}
		for range maxReapplied - 1 {
			out = append(out, earlier)
		}
	}
	return out
}

// smallestViolation describes the shortest history of one item that is
// not linearizable on its own, its operations in the order they were
// called.
func smallestViolation(model porcupine.Model, ops []porcupine.Operation) string {
	var worst []porcupine.Operation
	for _, part := range model.Partition(ops) {
		if porcupine.CheckOperations(model, part) {
			continue
		}
		if worst == nil || len(part) < len(worst) {
			worst = part
		}
	}
	sort.Slice(worst, func(i, j int) bool { return worst[i].Call < worst[j].Call })
	var b strings.Builder
	var t0 int64
	if len(worst) > 0 {
		t0 = worst[0].Call
	}
	for _, op := range worst {
		ret := "…"
		if op.Return != 1<<63-1 {
			ret = fmt.Sprintf("%.1fms", float64(op.Return-t0)/1e6)
		}
		fmt.Fprintf(&b, "  worker %d  [%.1fms, %s]  %s\n", op.ClientId, float64(op.Call-t0)/1e6, ret, model.DescribeOperation(op.Input, op.Output))
	}
	return b.String()
}

// CheckCreates checks the keyed creates: each made its order at most once,
// and exactly once when it reported success. stored counts the orders the
// server holds by their W.
func CheckCreates(records []Record, stored map[string]int) error {
	var errs []string
	for _, r := range records {
		if r.Input.Kind != KindCreate {
			continue
		}
		n := stored[r.Input.Token]
		switch {
		case n > 1:
			errs = append(errs, fmt.Sprintf("create %s (%s) made %d orders", r.Input.Token, r.Output.Outcome, n))
		case n == 0 && (r.Output.Outcome == OK || r.Output.Outcome == Applied):
			errs = append(errs, fmt.Sprintf("create %s reported %s but made no order", r.Input.Token, r.Output.Outcome))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("keyed creates: %s", strings.Join(errs, "; "))
	}
	return nil
}

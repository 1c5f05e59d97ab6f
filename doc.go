// Package concord is a client for REST APIs whose writes can collide. It
// makes the three things that go wrong with concurrent writers go right:
//
//   - Creates are never duplicated: every POST carries an idempotency key,
//     the same on every retry, so a retry after a lost response returns the
//     original result (Resource.Create). A create at a chosen ID uses
//     If-None-Match: * and adopts its own lost create (Resource.CreateAt).
//   - Updates are never lost: the client tracks each resource's version
//     (ETag, or a version member of the body) and sends it as a
//     precondition, so a stale write is rejected instead of overwriting.
//   - A conflict is resolved instead of surfaced: on 409 or 412 concord
//     fetches the current version, calls a merge function with (base,
//     mine, theirs) and writes the result, with backoff
//     (Resource.Replace, Resource.Update).
//
// Transport failures (connection errors, 429, 5xx) are retried only when a
// repeat cannot apply a side effect twice, honoring Retry-After within a
// cap and a client-wide retry budget, and never waiting past the context's
// deadline. Where a server's preconditions cannot be trusted, WithLocks
// takes its lock (a WebDAV lock, an Azure Blob lease) around every write,
// and concord probe says which an API is.
//
// # What each response means
//
//	2xx (Idempotent-Replayed: true)   success (Response.Replayed)
//	409/412 after a conditional write  stale version: refetch, merge, retry
//	412 after If-None-Match: *         already exists: adopt or ErrAlreadyExists
//	409 same key in progress           wait, resend the same key and bytes
//	  (a recognized code, or Retry-After: a bare 409 is not "in progress")
//	plain 409 to a create              ErrAlreadyExists, sent once
//	422 key reused                     ErrIdempotencyKeyReused, permanent
//	428                                fetch the version, retry once conditionally
//	423, or an Azure lease code        locked by another: WithLocks waits for it
//	other 409/412/422                  business rule: *APIError, permanent
//	429, 503 (+ Retry-After)           wait as told (capped), retry if safe
//	connection error, 500, 502, 504    retry if safe
//
// # Options
//
// New takes Options, which configure the client. NewResource takes
// ResourceOptions, which say how the API works (versions, routes, paging,
// patches, keys, locks) and what every call sends; a call takes
// CallOptions: any ResourceOption, for that call alone, and what one call
// says of itself (WithBaseVersion, WithIdempotencyKey), which does not
// compile in NewResource. A call ignores an option that does not concern
// it. A merge is typed by its resource: see Resource.WithMerge.
//
// Errors are matched with errors.Is against the Err* sentinels and read
// with errors.As into *APIError, *ConflictError, *RetryError,
// *MergeClashError and *DecodeError.
//
// The concordtest package provides a fake API with real ETag, precondition
// and idempotency semantics and fault injection, for testing code that uses
// concord.
//
// # Guides
//
// The guides in the repository's docs/ directory each cover one task:
// docs/client.md (credentials, retries, hooks, errors, defaults),
// docs/resources.md (reads, creates, writes, deletes; creates that survive
// a restart with KeyFor), docs/wrapping.md (paging, routes, versions of an
// API's own shape), docs/merging.md, docs/locks.md (WithLocks, for servers
// whose preconditions cannot be trusted), docs/servers.md (the real
// servers concord is tested against), docs/probe.md (concord probe),
// docs/security.md, docs/testing.md (concordtest) and
// docs/performance.md.
package concord

// Layer: Operations (ARCHITECTURE.md).

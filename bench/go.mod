module github.com/concord-go/concord/bench

go 1.23

replace github.com/concord-go/concord => ../

require (
	github.com/concord-go/concord v0.0.0-00010101000000-000000000000
	github.com/go-resty/resty/v2 v2.16.5
	github.com/google/uuid v1.6.0
	github.com/hashicorp/go-retryablehttp v0.7.8
)

require (
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	golang.org/x/net v0.33.0 // indirect
)

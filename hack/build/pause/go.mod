module modelops.dev/hack/build/pause

go 1.24.0

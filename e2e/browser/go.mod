module github.com/hitcounter/hitcounter/e2e/browser

go 1.26.0

require github.com/hitcounter/hitcounter v0.0.0

replace github.com/hitcounter/hitcounter => ../..

module github.com/hitcounter/hitcounter/e2e/browser

go 1.26.0

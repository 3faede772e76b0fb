module github.com/kormed/kormed

go 1.24

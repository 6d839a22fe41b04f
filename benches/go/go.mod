module gokiobench

go 1.19

module github.com/gantrygw/gantry

go 1.26

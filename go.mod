module github.com/gantrygw/gantry

go 1.26

require (
	github.com/coder/websocket v1.8.15
	go.yaml.in/yaml/v3 v3.0.6
)

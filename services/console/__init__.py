"""The station console (工作台): the web front people open; calls the five services' APIs with their token."""

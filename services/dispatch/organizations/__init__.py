"""The service-organization registry (服务机构库, 001 §7.2.2): admission, qualifications, agreement, service
areas, suspension and exit, and each organization's running record computed from events."""

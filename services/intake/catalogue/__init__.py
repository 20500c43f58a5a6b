"""The service catalogue (服务项目目录): categories, versioned items, city and station overrides."""

"""A folder on the web and worker host as a channel: for laptops and single-box installs."""

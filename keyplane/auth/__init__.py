"""Who is calling: credentials in, one ``Principal`` out, checked the same way everywhere."""

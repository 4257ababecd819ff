"""Sources, matching engine, findings store and the pipeline that joins them."""

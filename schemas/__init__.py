"""JSON Schemas shipped with Cookbook (sample records, pipelines, mixtures, manifests)."""

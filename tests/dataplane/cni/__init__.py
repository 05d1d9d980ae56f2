"""nad-delegate, the data plane tier's CNI meta-plugin (NPWG NetworkAttachmentDefinition standard)."""

"""The MCP server (``lakehouse mcp``): Lakehouse's tools and resources for AI agents, over
the Python client, on stdio or streamable HTTP."""

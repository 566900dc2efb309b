"""Catalog: products, price books, promotions, pricing, quotes and availability."""

"""A page of a list (the admin's lists, the merchant API's): which rows, and the `meta` STOQ
answers beside them."""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def meta(self, total: int) -> dict[str, int]:
        return {
            "total_count": total,
            "page": self.page,
            "per_page": self.per_page,
            "total_pages": math.ceil(total / self.per_page),
        }

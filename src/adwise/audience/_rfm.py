"""RFM features (recency, frequency, monetary) from a transactions table.

Returns and cancellations
-------------------------
Rows with a negative quantity or amount are returns (in Online Retail: invoices starting with
``C``).  ``returns`` decides what happens to them:

* ``"net"`` (default): their (negative) amounts are subtracted from the customer's monetary
  value (floored at 0); they count neither as a purchase (frequency) nor as activity (recency).
* ``"drop"``: they are ignored.
* ``"error"``: they are refused with an error naming the rows.

Rows without a customer id cannot be attributed and are dropped; rows with a negative price
(bookkeeping adjustments) are dropped.  Both are counted in the returned report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import ContractError, InputError

__all__ = ["RETURNS_POLICIES", "rfm_features"]

RETURNS_POLICIES = ("net", "drop", "error")


def _need(df: pd.DataFrame, col: str | None, flag: str, source: str) -> None:
    if col is not None and col not in df.columns:
        raise ContractError(
            source,
            col,
            f"not in the file (given as {flag})",
            f"use one of the file's columns: {', '.join(map(str, df.columns[:20]))}",
        )


def rfm_features(
    df: pd.DataFrame,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    quantity_col: str | None = None,
    price_col: str | None = None,
    invoice_col: str | None = None,
    returns: str = "net",
    source: str = "transactions",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per customer: ``recency_days``, ``frequency``, ``monetary``.

    ``recency_days`` counts days from the customer's last purchase to the last date in the
    file; ``frequency`` is the number of distinct invoices (or purchase days without
    ``invoice_col``); ``monetary`` the net amount spent.  The amount is ``amount_col`` or
    ``quantity_col * price_col``.
    """
    if returns not in RETURNS_POLICIES:
        raise InputError(
            f"--returns must be one of {', '.join(RETURNS_POLICIES)}; got {returns!r}."
        )
    for col, flag in (
        (customer_col, "--customer-col"),
        (date_col, "--date-col"),
        (amount_col, "--amount-col"),
        (quantity_col, "--quantity-col"),
        (price_col, "--price-col"),
        (invoice_col, "--invoice-col"),
    ):
        _need(df, col, flag, source)
    if amount_col is None and (quantity_col is None or price_col is None):
        raise InputError(
            "RFM needs the amount of each transaction: give --amount-col, or --quantity-col and "
            "--price-col."
        )
    report: dict[str, Any] = {"rows_read": len(df)}
    d = df
    no_id = d[customer_col].isna() | (d[customer_col].astype(str).str.strip() == "")
    report["rows_without_customer"] = int(no_id.sum())
    d = d.loc[~no_id]
    dates = pd.to_datetime(d[date_col], errors="coerce")
    bad_dates = dates.isna()
    if bad_dates.any():
        rows = np.flatnonzero(bad_dates.to_numpy())
        raise ContractError(
            source,
            date_col,
            "has values that are not dates",
            "write dates as ISO-8601 (YYYY-MM-DD[ HH:MM:SS]) and drop empty ones",
            rows=[(int(d.index[r]), d[date_col].iloc[r]) for r in rows[:5]],
            n_bad=len(rows),
        )
    if amount_col is not None:
        amount = pd.to_numeric(d[amount_col], errors="coerce")
        sign_col = amount_col
        neg = amount < 0
        bad_price = pd.Series(False, index=d.index)
    else:
        qty = pd.to_numeric(d[quantity_col], errors="coerce")
        price = pd.to_numeric(d[price_col], errors="coerce")
        amount = qty * price
        sign_col = quantity_col
        neg = qty < 0
        bad_price = price < 0
    if amount.isna().any():
        rows = np.flatnonzero(amount.isna().to_numpy())
        raise ContractError(
            source,
            amount_col or f"{quantity_col} x {price_col}",
            "has non-numeric values",
            "give plain numbers (no currency signs) and drop empty ones",
            rows=[(int(d.index[r]), None) for r in rows[:5]],
            n_bad=len(rows),
        )
    report["rows_negative_price_dropped"] = int(bad_price.sum())
    report["return_rows"] = int(neg.sum())
    report["returns_policy"] = returns
    if neg.any() and returns == "error":
        rows = np.flatnonzero(neg.to_numpy())
        raise ContractError(
            source,
            sign_col,
            "has negative values (returns or cancellations) and --returns error was given",
            "use --returns net (subtract returns from monetary value, the default) or --returns "
            "drop (ignore them), or remove the rows",
            rows=[
                (
                    int(d.index[r]),
                    d[sign_col].iloc[r].item()
                    if hasattr(d[sign_col].iloc[r], "item")
                    else d[sign_col].iloc[r],
                )
                for r in rows[:5]
            ],
            n_bad=len(rows),
        )
    keep = ~bad_price
    cust = d[customer_col].astype(str)
    cust = cust.where(~cust.str.endswith(".0"), cust.str[:-2])  # 12346.0 -> 12346
    buy = keep & ~neg & (amount > 0)
    if not buy.any():
        raise InputError(f"{source}: no purchase rows (positive amount with a customer id) left.")
    ref = dates.max()
    g_buy = pd.DataFrame({"c": cust[buy], "t": dates[buy], "a": amount[buy]})
    last = g_buy.groupby("c")["t"].max()
    recency = (ref - last).dt.total_seconds() / 86400.0
    if invoice_col is not None:
        freq = d.loc[buy, invoice_col].astype(str).groupby(cust[buy]).nunique()
    else:
        freq = dates[buy].dt.normalize().groupby(cust[buy]).nunique()
    spent = g_buy.groupby("c")["a"].sum()
    if returns == "net":
        ret = amount[keep & neg].groupby(cust[keep & neg]).sum()
        spent = spent.add(ret.reindex(spent.index, fill_value=0.0), fill_value=0.0)
        spent = spent.reindex(last.index).clip(lower=0.0)
    out = pd.DataFrame(
        {
            "recency_days": recency,
            "frequency": freq.reindex(last.index).astype(float),
            "monetary": spent.reindex(last.index).astype(float),
        }
    )
    out.index.name = customer_col
    report["customers"] = len(out)
    report["reference_date"] = str(ref)
    return out, report

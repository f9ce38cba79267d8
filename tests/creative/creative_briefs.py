"""Briefs and audiences shared by the creative tests."""

BRIEF_EN = "TrailMax running shoes: lightweight, waterproof, $89, free shipping"
AUDIENCE_EN = "trail runners who love hiking and camping"
BRIEF_ZH = "轻风跑鞋：超轻鞋面，防水透气，299元，全国包邮"
AUDIENCE_ZH = "喜欢徒步和露营的年轻父母"

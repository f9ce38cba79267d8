"""Word lists for the synthetic ad world, one block per ad category, in English and Chinese.

The synthetic world (:mod:`adwise.data._synth`) writes ad creatives and user self-descriptions
from these lists, so that text models have real signal to find: a user's words come mostly from
the categories they care about, and an ad's headline may carry "power words" whose effect on the
click-through rate is known (:data:`POWER_WORDS`).

Nothing in the product names, adjectives or descriptions contains a power word as a whole word
(the tests check), so an ad's power words are exactly those placed in its headline on purpose.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = [
    "AGE_BANDS",
    "CATEGORIES",
    "CATEGORY_ECONOMICS",
    "DEVICES",
    "GENDERS",
    "POWER_WORDS",
    "REGIONS",
    "VOCAB",
    "CategoryVocab",
    "PowerWord",
    "display_width",
]

CATEGORIES: tuple[str, ...] = (
    "sports",
    "travel",
    "fashion",
    "electronics",
    "finance",
    "food",
    "gaming",
    "beauty",
    "home",
    "auto",
    "education",
    "health",
)

AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
GENDERS: tuple[str, ...] = ("female", "male", "other")
REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "central")
DEVICES: tuple[str, ...] = ("mobile", "desktop", "tablet")

# (price of one conversion, typical CPC bid, typical conversion rate after a click), all in
# the same money unit.  Spread wide on purpose: value-based ranking should matter.
CATEGORY_ECONOMICS: dict[str, tuple[float, float, float]] = {
    "sports": (70.0, 0.60, 0.07),
    "travel": (320.0, 1.20, 0.035),
    "fashion": (60.0, 0.50, 0.08),
    "electronics": (220.0, 0.90, 0.045),
    "finance": (150.0, 2.50, 0.035),
    "food": (25.0, 0.30, 0.12),
    "gaming": (20.0, 0.35, 0.10),
    "beauty": (35.0, 0.50, 0.09),
    "home": (90.0, 0.60, 0.06),
    "auto": (450.0, 1.80, 0.02),
    "education": (180.0, 1.40, 0.045),
    "health": (45.0, 0.80, 0.07),
}


def display_width(text: str) -> int:
    """Width of ``text`` on screen: East Asian wide and full-width characters count 2.

    Examples
    --------
    >>> display_width("Run")
    3
    >>> display_width("跑鞋，")
    6
    """
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


@dataclass(frozen=True)
class PowerWord:
    """A headline word with a known additive effect on the click logit.

    ``key`` names the word in the truth (language independent); ``en``/``zh`` are the surface
    forms; ``position`` says where the word sits in a headline (``prefix`` or ``suffix``).
    For English the effect applies when the lower-cased word appears as a whole word; for
    Chinese when the surface form appears as a substring.
    """

    key: str
    en: str
    zh: str
    position: str
    effect: float


# Positive words promise value or novelty; negative ones read as spam.  Effects are in logit
# units on the click model, sized so a text model can find them in a few hundred ads.
POWER_WORDS: tuple[PowerWord, ...] = (
    PowerWord("new", "New", "新品", "prefix", 0.15),
    PowerWord("exclusive", "Exclusive", "独家", "prefix", 0.20),
    PowerWord("limited", "Limited", "限时", "prefix", 0.25),
    PowerWord("best", "Best", "精选", "prefix", 0.05),
    PowerWord("cheap", "Cheap", "低价", "prefix", -0.25),
    PowerWord("free", "free delivery", "包邮", "suffix", 0.35),
    PowerWord("sale", "on sale", "特惠", "suffix", 0.20),
    PowerWord("now", "buy now", "立即购买", "suffix", 0.10),
    PowerWord("guaranteed", "guaranteed", "保证正品", "suffix", -0.10),
    PowerWord("click", "click here", "点击这里", "suffix", -0.35),
)


@dataclass(frozen=True)
class CategoryVocab:
    """Words for one category in one language."""

    products: tuple[str, ...]
    adjectives: tuple[str, ...]
    benefits: tuple[str, ...]
    ctas: tuple[str, ...]
    interests: tuple[str, ...]
    brand_suffixes: tuple[str, ...]


def _v(products: str, adjectives: str, benefits: str, ctas: str, interests: str, brands: str):
    # One "|"-separated string per list keeps the tables below readable.
    def split(s: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in s.split("|") if p.strip())

    return CategoryVocab(
        split(products), split(adjectives), split(benefits), split(ctas), split(interests),
        split(brands),
    )


_EN: dict[str, CategoryVocab] = {
    "sports": _v(
        "running shoes|yoga mats|gym bags|tennis rackets|cycling jerseys|football boots|"
        "fitness trackers|swim goggles",
        "lightweight|pro|durable|breathable|all-weather|race-ready",
        "Built for long runs and quick recovery.|Gear trusted by club athletes.|"
        "Train harder with kit that keeps up.|Comfort from warm-up to final whistle.",
        "Shop the range.|Gear up today.|Find your size.|Join the team.",
        "running|football|yoga|cycling|hiking|swimming|marathons|tennis|the gym",
        "Sports|Athletics|Outdoors",
    ),
    "travel": _v(
        "city breaks|beach resorts|flight deals|ski trips|cruise cabins|hotel stays|"
        "rail passes|island tours",
        "sunny|last-minute|family|luxury|weekend|all-inclusive",
        "Pack light and see more of the world.|Handpicked stays in great locations.|"
        "Flexible dates and easy changes.|Trips planned by people who travel.",
        "Book your trip.|See the deals.|Plan your escape.|Check dates.",
        "travel|beaches|road trips|backpacking|city breaks|ski holidays|cruises|museums",
        "Travel|Journeys|Holidays",
    ),
    "fashion": _v(
        "denim jackets|summer dresses|leather boots|silk scarves|wool coats|sneakers|"
        "handbags|linen shirts",
        "classic|tailored|vintage|casual|seasonal|handmade",
        "Styles that go from desk to dinner.|Soft fabrics and clean cuts.|"
        "Fresh looks for every season.|Made to last and easy to wear.",
        "Shop the look.|Browse styles.|Find your fit.|See the collection.",
        "fashion|street style|vintage clothes|sneakers|handbags|tailoring|shopping",
        "Fashion|Apparel|Studio",
    ),
    "electronics": _v(
        "laptops|wireless earbuds|smart watches|4K monitors|phone chargers|tablets|"
        "gaming mice|smart speakers",
        "compact|fast|wireless|high-end|portable|smart",
        "All-day battery and a bright screen.|Fast charging for busy days.|"
        "Crisp sound in a pocket-size case.|Specs that keep up with you.",
        "Compare models.|See the specs.|Upgrade today.|Shop tech.",
        "gadgets|smartphones|laptops|audio gear|smart homes|photography|coding",
        "Electronics|Tech|Digital",
    ),
    "finance": _v(
        "savings accounts|credit cards|home loans|index funds|travel insurance|"
        "business loans|pension plans|stock apps",
        "low-fee|flexible|simple|secure|smart|fixed-rate",
        "Manage your money in one simple app.|Clear rates with no hidden fees.|"
        "Grow your savings month by month.|Open an account in minutes.",
        "Apply online.|Check your rate.|Open an account.|Get a quote.",
        "investing|personal finance|stocks|saving money|crypto|budgeting|real estate",
        "Capital|Finance|Bank",
    ),
    "food": _v(
        "meal kits|coffee beans|pizza delivery|organic snacks|craft beer|fresh pasta|"
        "vegan bowls|sushi sets",
        "fresh|homemade|organic|spicy|seasonal|family-size",
        "Dinner on the table in twenty minutes.|Fresh ingredients delivered to you.|"
        "Recipes the whole family will love.|Small-batch flavour in every bite.",
        "Order today.|See the menu.|Try a box.|Taste it.",
        "cooking|coffee|baking|street food|wine|vegan food|restaurants|recipes",
        "Kitchen|Foods|Eats",
    ),
    "gaming": _v(
        "RPG games|game passes|headsets|racing games|puzzle games|controllers|"
        "strategy games|VR sets",
        "epic|multiplayer|open-world|retro|competitive|indie",
        "Hundreds of hours of adventure await.|Play with friends across devices.|"
        "Smooth frame rates and sharp graphics.|Level up your setup.",
        "Play today.|Download it.|Join the match.|Start playing.",
        "video games|esports|RPGs|streaming|board games|retro consoles|VR",
        "Games|Studios|Play",
    ),
    "beauty": _v(
        "face serums|lipsticks|hair masks|sunscreens|perfumes|skincare sets|"
        "nail polish|eye creams",
        "gentle|vegan|glowing|long-lasting|natural|hydrating",
        "Gentle formulas for sensitive skin.|Colour that lasts all day.|"
        "Glow from your morning routine.|Clean ingredients you can read.",
        "Shop beauty.|Find your shade.|Try the set.|Discover more.",
        "skincare|makeup|perfume|hair care|nail art|wellness|self-care",
        "Beauty|Cosmetics|Glow",
    ),
    "home": _v(
        "sofas|bed linen|kitchen knives|plant pots|desk lamps|rugs|storage boxes|"
        "coffee tables",
        "cosy|modern|compact|handcrafted|minimal|sturdy",
        "Make every room feel like home.|Clever storage for small spaces.|"
        "Pieces built for everyday living.|Calm colours and soft textures.",
        "Shop home.|See the room.|Browse decor.|Refresh your space.",
        "interior design|gardening|DIY|houseplants|cooking|home decor|furniture",
        "Home|Living|Interiors",
    ),
    "auto": _v(
        "electric cars|SUVs|car tyres|dash cams|car leases|hybrid cars|roof racks|"
        "car servicing",
        "efficient|spacious|rugged|electric|family|sporty",
        "Test drive the car that fits your life.|Low running costs and a smooth ride.|"
        "Room for the whole family and the dog.|Service plans with no surprises.",
        "Book a test drive.|Get a quote.|Build yours.|Find a dealer.",
        "cars|motorsport|electric cars|road trips|motorbikes|car repair",
        "Motors|Auto|Drive",
    ),
    "education": _v(
        "online courses|coding bootcamps|language classes|MBA programs|maths tutors|"
        "exam prep|design courses|certificates",
        "online|part-time|intensive|accredited|flexible|beginner",
        "Learn at your own pace from experts.|Skills employers are hiring for.|"
        "Small classes and real projects.|Study around work and family.",
        "Enrol today.|Start learning.|See the syllabus.|Book a trial.",
        "learning|languages|coding|reading|science|history|online courses",
        "Academy|Learning|Institute",
    ),
    "health": _v(
        "vitamins|protein powders|sleep trackers|massage guns|herbal teas|"
        "home gyms|meditation apps|blood pressure monitors",
        "daily|natural|clinically tested|plant-based|calming|low-sugar",
        "Small habits for a healthier you.|Sleep better and wake up fresh.|"
        "Support your body every day.|Advice from licensed experts.",
        "Learn more.|Start today.|Try it.|See how it works.",
        "wellness|nutrition|meditation|sleep|fitness|healthy eating|mental health",
        "Health|Care|Wellness",
    ),
}

_ZH: dict[str, CategoryVocab] = {
    "sports": _v(
        "跑鞋|瑜伽垫|健身包|网球拍|骑行服|足球鞋|运动手环|泳镜",
        "轻量|专业|耐磨|透气|全天候|竞速",
        "为长跑与快速恢复而设计。|俱乐部运动员信赖的装备。|装备跟得上，训练更尽兴。|从热身到终场都舒适。",
        "立即选购。|马上装备。|挑选尺码。|加入我们。",
        "跑步|足球|瑜伽|骑行|徒步|游泳|马拉松|网球|健身",
        "体育|运动|户外",
    ),
    "travel": _v(
        "城市游|海滨度假|特价机票|滑雪之旅|邮轮舱位|酒店住宿|火车通票|海岛游",
        "阳光|说走就走|亲子|奢华|周末|全包",
        "轻装出行，看更大的世界。|挑好位置的住宿。|日期灵活，改签方便。|懂旅行的人帮你规划。",
        "预订行程。|查看优惠。|计划出发。|查看日期。",
        "旅行|海滩|自驾|背包游|城市漫步|滑雪|邮轮|博物馆",
        "旅行|旅游|假期",
    ),
    "fashion": _v(
        "牛仔外套|夏季连衣裙|皮靴|丝巾|羊毛大衣|运动鞋|手提包|亚麻衬衫",
        "经典|修身|复古|休闲|当季|手工",
        "从办公室到晚餐都合适。|柔软面料，利落剪裁。|每个季节都有新造型。|经久耐穿，轻松搭配。",
        "选购同款。|浏览款式。|找到合身。|查看系列。",
        "时尚|街头潮流|古着|球鞋|包包|穿搭|购物",
        "服饰|时装|工作室",
    ),
    "electronics": _v(
        "笔记本电脑|无线耳机|智能手表|4K显示器|手机充电器|平板电脑|游戏鼠标|智能音箱",
        "小巧|高速|无线|高端|便携|智能",
        "续航一整天，屏幕更清晰。|快速充电，忙碌也不慌。|口袋大小，音质清澈。|性能跟得上你的节奏。",
        "对比型号。|查看参数。|马上升级。|选购数码。",
        "数码|手机|电脑|音响|智能家居|摄影|编程",
        "电子|科技|数码",
    ),
    "finance": _v(
        "储蓄账户|信用卡|房贷|指数基金|旅行保险|经营贷款|养老计划|炒股软件",
        "低费率|灵活|简单|安全|智能|固定利率",
        "一个应用管好你的钱。|利率清楚，没有隐藏费用。|每月积累，储蓄稳步增长。|几分钟完成开户。",
        "在线申请。|查询利率。|马上开户。|获取报价。",
        "投资|理财|股票|存钱|加密货币|记账|房产",
        "资本|金融|银行",
    ),
    "food": _v(
        "半成品套餐|咖啡豆|披萨外卖|有机零食|精酿啤酒|鲜意面|素食碗|寿司套餐",
        "新鲜|家常|有机|香辣|应季|家庭装",
        "二十分钟端上晚餐。|新鲜食材送到家。|全家都爱的菜谱。|小批量手作，每口都有味道。",
        "马上下单。|查看菜单。|试一盒。|尝一尝。",
        "做饭|咖啡|烘焙|街头小吃|葡萄酒|素食|餐厅|菜谱",
        "厨房|食品|美食",
    ),
    "gaming": _v(
        "角色扮演游戏|游戏会员|游戏耳机|赛车游戏|益智游戏|游戏手柄|策略游戏|VR设备",
        "史诗|多人|开放世界|复古|竞技|独立",
        "数百小时的冒险等着你。|跨设备和好友一起玩。|帧率流畅，画面清晰。|升级你的游戏装备。",
        "今天就玩。|下载游戏。|加入对局。|开始游戏。",
        "电子游戏|电竞|角色扮演|直播|桌游|复古主机|虚拟现实",
        "游戏|工作室|娱乐",
    ),
    "beauty": _v(
        "精华液|口红|发膜|防晒霜|香水|护肤套装|指甲油|眼霜",
        "温和|纯素|亮泽|持久|天然|补水",
        "敏感肌也能用的温和配方。|色彩持久一整天。|从早晨护肤开始发光。|成分干净，一看就懂。",
        "选购美妆。|找到色号。|试用套装。|发现更多。",
        "护肤|彩妆|香水|护发|美甲|养生|悦己",
        "美妆|化妆品|光彩",
    ),
    "home": _v(
        "沙发|床品|厨房刀具|花盆|台灯|地毯|收纳箱|茶几",
        "温馨|现代|小巧|手工|极简|结实",
        "让每个房间都像家。|小空间的聪明收纳。|为日常生活而造。|柔和色彩，柔软质感。",
        "选购家居。|查看实景。|浏览装饰。|焕新空间。",
        "室内设计|园艺|手工|绿植|做饭|家居装饰|家具",
        "家居|生活|空间",
    ),
    "auto": _v(
        "电动车|城市SUV|轮胎|行车记录仪|汽车租赁|混动车|车顶架|汽车保养",
        "省油|宽敞|硬派|电动|家用|运动",
        "试驾适合你生活的车。|用车成本低，驾驶更平顺。|全家和狗狗都坐得下。|保养套餐，没有意外。",
        "预约试驾。|获取报价。|定制你的车。|查找门店。",
        "汽车|赛车|电动车|自驾|摩托车|修车",
        "汽车|车业|驾趣",
    ),
    "education": _v(
        "网课|编程训练营|语言课|MBA项目|数学辅导|备考课程|设计课|职业证书",
        "在线|业余|强化|认证|灵活|入门",
        "跟着专家按自己的节奏学。|学企业正在招聘的技能。|小班教学，真实项目。|工作家庭两不误。",
        "马上报名。|开始学习。|查看课表。|预约试听。",
        "学习|外语|编程|阅读|科学|历史|网课",
        "学院|教育|学堂",
    ),
    "health": _v(
        "维生素|蛋白粉|睡眠监测仪|筋膜枪|草本茶|家庭健身器|冥想应用|血压计",
        "每日|天然|临床验证|植物基|舒缓|无糖",
        "小习惯，更健康。|睡得更好，醒来更清爽。|每天支持你的身体。|持证专家给你建议。",
        "了解更多。|今天开始。|试一试。|看看原理。",
        "养生|营养|冥想|睡眠|健身|健康饮食|心理健康",
        "健康|关怀|康养",
    ),
}

VOCAB: dict[str, dict[str, CategoryVocab]] = {"en": _EN, "zh": _ZH}

# Brand stems for advertiser names ("Northwind Sports", "远航旅行").
BRAND_STEMS: dict[str, tuple[str, ...]] = {
    "en": (
        "Northwind", "Bluefin", "Summit", "Cedar", "Harbor", "Lumen", "Maple", "Orbit",
        "Pioneer", "Quartz", "Redwood", "Silverline", "Tidal", "Vertex", "Willow", "Zenith",
        "Aurora", "Beacon", "Cobalt", "Evergreen",
    ),
    "zh": (
        "星辰", "远航", "金桥", "天域", "青松", "明月", "长风", "海岸", "晨光", "云途",
        "蓝鲸", "红杉", "银河", "山海", "锦程", "极光", "森屿", "北辰", "望京", "若水",
    ),
}

# Templates for the users' self-descriptions; {0}, {1}, {2} are interest words.
USER_TEXT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "en": (
        "into {0}, {1} and {2}",
        "love {0} and {1}; also {2}",
        "{0} fan, {1}, {2}",
        "weekends: {0}, {1}, {2}",
    ),
    "zh": (
        "喜欢{0}、{1}和{2}",
        "爱好{0}，也爱{1}、{2}",
        "{0}爱好者，{1}，{2}",
        "周末：{0}、{1}、{2}",
    ),
}

"""Deterministic Chinese names, phones and ID numbers for the demo world."""

from __future__ import annotations

import random
from datetime import date, timedelta

from ..people.idnumber import make_id_number

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅燕琳建国海波晓峰春雷婷倩雪慧宇浩然欣怡思佳雨嘉子涵博文"
    "瑞凯悦晨宁安康乐颖蕾璐琦瑶瑜婕妍洁琴云月新立志家鑫鹏飞俊辉"
)
COMMUNITY_STEMS = (
    "和睦",
    "德胜",
    "大关",
    "东新",
    "文晖",
    "朝晖",
    "湖墅",
    "米市",
    "卖鱼",
    "信义",
    "小河",
    "长征",
    "左家",
    "拱宸",
    "桥西",
    "如意",
    "和平",
    "光华",
    "运河",
    "西文",
    "东文",
    "明月",
    "新华",
    "红石",
    "青园",
    "锦绣",
    "幸福",
    "阳光",
    "翠苑",
    "紫荆",
    "香积",
    "塘河",
    "祥符",
    "花园",
    "星桥",
    "田园",
    "杏花",
    "梅林",
    "丽水",
    "古墩",
    "宝善",
    "白马",
    "仓基",
    "登云",
    "永福",
    "北星",
    "金华",
    "康桥",
    "良渚",
    "三塘",
    "沈塘",
    "蔡马",
    "瓜山",
    "方家",
    "长乐",
    "华丰",
    "半山",
    "皋亭",
    "石塘",
    "杨家",
    "吉如",
    "兴福",
    "东海",
    "南苑",
    "北苑",
    "新村",
    "港湾",
    "双桥",
    "前进",
    "团结",
)


def person_name(rng: random.Random) -> str:
    """Return a plausible two- or three-character name."""
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def phone(rng: random.Random) -> str:
    """Return an 11-digit mainland mobile number."""
    return rng.choice(("13", "15", "17", "18", "19")) + f"{rng.randrange(10**9):09d}"


class IdNumbers:
    """Hand out distinct valid ID numbers for one region code."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def next(self, region: str) -> str:
        while True:
            birth = date(1965, 1, 1) + timedelta(days=self.rng.randrange(365 * 36))
            value = make_id_number(region, birth, self.rng.randrange(1000))
            if value not in self.used:
                self.used.add(value)
                return value

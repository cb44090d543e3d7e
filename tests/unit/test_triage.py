"""Triage of one complaint: category suggestion, risk signals with reasons, care priority.

The held-out complaints below were written for these tests (none comes from the sample file);
they check that the packaged vocabulary generalises beyond the samples.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from odr.domain.duplicates import (
    CaseRef,
    DuplicateReason,
    duplicate_links,
    normalise_policy_no,
    same_policy_open_cases,
)
from odr.domain.errors import ValidationFailed
from odr.domain.similarity import Candidate
from odr.domain.triage import (
    REQUIRED_SIGNALS,
    Category,
    TriageInput,
    TriageResult,
    TriageRules,
    age_on,
    parse_number,
    triage,
)
from odr.services.triage_rules import (
    default_rules,
    load_rules,
    merge_rules,
    packaged_rules_data,
)

RULES = default_rules()
RECEIVED = date(2025, 6, 1)


def judge(text: str, **fields: Any) -> TriageResult:
    return triage(TriageInput(text=text, received_on=RECEIVED, **fields), RULES)


class Case(NamedTuple):
    id: str
    category: str
    birth_date: str
    amount_cny: int
    channel: str
    care: bool
    signals: str  # expected signals, space-separated
    text: str


# fmt: off
HELD_OUT = [
    Case("H01", "claims", "1990-02-14", 62000, "web", False, "litigation",
         "父亲住院做了心脏支架手术，花了6万多，保险公司说不在保障范围内，拒绝赔付。合同上"
         "写的明明是保障心血管疾病，我们已经咨询了律师。"),
    Case("H02", "surrender", "1984-07-01", 30000, "web", False, "",
         "去年买的年金险，现在家里急需用钱想退保，工作人员告诉我只能退现金价值，交了3万只"
         "能拿回8000多，这合理吗？"),
    Case("H03", "mis_selling", "1979-03-22", 50000, "web", False, "",
         "在银行办业务时理财经理推荐了一款产品，说是保本保息的理财，三年后可以随时取出，后"
         "来才发现是十年期的保险，我要求全额退还本金。"),
    Case("H04", "call_back", "1988-09-09", 3000, "web", False, "",
         "投保后的电话回访中，工作人员只是让我一直回答“是”，根本没有解释等待期和免责条款"
         "，现在出险了才知道被拒的原因。"),
    Case("H05", "payment_refund", "1996-12-01", 4500, "partner_api", False, "",
         "犹豫期内申请了全额退款，保险公司也同意了，但是过了二十天钱还没有到账，打电话催了"
         "好几次都说在走流程。"),
    Case("H06", "premium_renewal", "1970-05-20", 1800, "web", False, "",
         "我的医疗险今年续保时突然被告知产品停售，不能续保了，之前业务员说可以保证续保到8"
         "0岁，现在生病了买不到别的保险。"),
    Case("H07", "privacy", "1993-04-18", 0, "web", False, "",
         "在某保险公司投保后不久，就不断接到各种贷款和理财的骚扰电话，对方知道我的家庭住址"
         "和保单信息，明显是个人信息被泄露了。"),
    Case("H08", "service", "1982-10-30", 0, "web", False, "",
         "去柜台办理保单变更，工作人员态度非常差，让我来回跑了四趟，每次都说缺材料，又不肯"
         "一次性说清楚需要什么。"),
    Case("H09", "claims", "1975-08-08", 12000, "hotline", True, "elderly regulator",
         "我父亲今年76岁，在家摔伤骨折住院，意外险理赔申请提交了两个月一直没有结果，我已"
         "经打了12378热线反映。"),
    Case("H10", "mis_selling", "1986-01-15", 100000, "web", False, "group high_amount regulator",
         "我们单位有十几名同事都在同一个代理人那里买了这款产品，代理人宣传年化收益8%，实"
         "际收益不到2%，大家准备联名向消协投诉。"),
    Case("H11", "premium_renewal", "1950-06-06", 5200, "web", True, "elderly",
         "保险公司今年把我的防癌险保费从2000多涨到了5000多，说是年龄到了费率调整，"
         "之前从来没有告诉过我会涨这么多。"),
    Case("H12", "payment_refund", "1991-11-11", 3600, "web", False, "emotion",
         "同一笔保费被重复扣款两次，一共多扣了3600元，客服推来推去，一个月了都没给我退"
         "回，简直是欺人太甚！！"),
    Case("H13", "claims", "1980-03-03", 45000, "web", False, "media",
         "车被水淹了，报案后保险公司拖了三个月才来定损，现在又说发动机进水属于免责不赔。我"
         "已经联系了本地电视台的记者。"),
    Case("H14", "service", "1977-07-07", 0, "web", False, "repeat",
         "这是我第三次投诉了，客服电话永远打不通，在线客服只会机器人回复，我的问题到现在都"
         "没有人处理。"),
    Case("H15", "surrender", "1956-02-02", 20000, "web", True, "elderly",
         "老人腿脚不便，想办理退保，但保险公司要求本人必须到柜台，我们多次说明情况也不给安"
         "排上门服务。"),
    Case("H16", "other", "1989-09-19", 0, "web", False, "",
         "想咨询一下如何查询自己名下的所有保单，以及保单的受益人能不能修改。"),
    Case("H17", "claims", "1985-05-25", 8000, "web", False, "emotion litigation",
         "女儿在学校摔伤，学平险理赔材料交上去三个月了，保险公司一拖再拖，说好的赔付一分钱"
         "没见到，太欺负人了，我们准备向法院起诉。"),
    Case("H18", "other", "1992-12-12", 0, "web", False, "",
         "请问保单上的联系地址填错了，怎么在网上修改？"),
    Case("H19", "mis_selling", "1994-08-16", 6000, "web", False, "",
         "在抖音直播间买了一份百万医疗险，主播宣传说没有等待期、什么病都能报，结果住院后被"
         "告知还在等待期内，明显是夸大宣传。"),
    Case("H20", "claims", "1983-03-30", 3000, "web", False, "",
         "我不想打官司，也不想找媒体，只希望保险公司按合同把住院的理赔款给我。"),
    Case("H21", "call_back", "1987-04-04", 0, "web", True, "elderly",
         "回访时我妈妈说听不懂普通话，对方却让她直接回答“清楚”，她今年已经78岁了，根本"
         "不知道自己买的是什么。"),
    Case("H22", "mis_selling", "1972-10-10", 150000, "web", True,
         "elderly emotion high_amount regulator",
         "我母亲70岁了，被业务员忽悠买了五份保险，花光了她所有的养老钱，我们全家都快崩溃"
         "了，如果再不解决我们就去银保监局反映。"),
    Case("H23", "payment_refund", "1981-01-01", 380, "regulator_referral", False, "regulator",
         "消费者反映其车险保单被加收了一笔服务费，要求说明收费依据并退还。"),
    Case("H24", "premium_renewal", "1968-11-30", 0, "web", False, "",
         "忘记交续期保费，过了宽限期保单就失效了，现在申请复效要重新体检，还要补交利息，太"
         "不合理了。"),
    Case("H25", "privacy", "1990-10-01", 0, "web", False, "",
         "保险代理人未经我同意，把我的病历和体检报告发到了他们的工作群里，侵犯了我的隐私。"),
    Case("H26", "claims", "1958-04-12", 180000, "web", True, "elderly high_amount litigation",
         "我今年67岁，去年查出胃癌做了手术，重疾险申请理赔被拒，理由是等待期内确诊，可我"
         "投保已经两年了，我要走法律途径。"),
    Case("B01", "claims", "1979-06-01", 500000, "web", False, "high_amount",
         "我老公出车祸去世了，意外险的受益人是我，保险公司说要等交警的事故认定书，认定书早"
         "就交过去了，到现在一分钱都没给。"),
    Case("B02", "claims", "1990-01-01", 1500, "web", False, "",
         "孩子发烧在门诊看病花了一千五，保险公司说门诊不报，可是当初买的时候说门诊住院都能"
         "报销。"),
    Case("B03", "surrender", "1983-02-02", 12000, "web", False, "",
         "我要求解除保险合同，保险公司一直拖着不给办，说领导还没签字，已经一个多月了。"),
    Case("B04", "mis_selling", "1961-09-09", 80000, "web", True, "elderly",
         "银行柜员跟我说这是一款存三年就能拿回本金加利息的产品，我签字时根本没看清是保险，"
         "现在要用钱才知道要交十年。"),
    Case("B05", "payment_refund", "1995-05-05", 2400, "web", False, "",
         "保单已经退了，但是保险公司说退保金打到了我以前的银行卡上，那张卡早就注销了，钱到"
         "底去哪了，到现在也没有收到。"),
    Case("B06", "premium_renewal", "1976-07-07", 3000, "web", False, "",
         "今年的保费比去年贵了一倍，打电话问原因，只说是统一调整，之前从来没有通知过。"),
    Case("B07", "privacy", "1985-12-12", 0, "web", False, "",
         "我从来没有买过这家公司的保险，却收到了他们寄来的保单，上面是我的名字和身份证号码"
         "，肯定是有人冒用了我的身份信息。"),
    Case("B08", "service", "1980-08-18", 0, "web", False, "",
         "给客服留言一个星期了也没人回复，打热线转人工要等四十分钟，好不容易接通了又说不归"
         "他们管。"),
    Case("B09", "call_back", "1990-04-04", 0, "web", False, "",
         "买保险的时候销售让我在回访电话里全部回答是，说这样才能通过，现在想想很多条款根本"
         "没有给我讲。"),
    Case("B10", "claims", "1966-03-15", 30000, "web", False, "litigation",
         "我爸去年确诊糖尿病并发症住院，医疗险理赔申请被退回三次，每次都要补材料，我们准备"
         "找律师了。"),
    Case("B11", "mis_selling", "1980-11-11", 20000, "web", False, "emotion group",
         "村里二十多户人家都被同一个保险推销员骗了，他说买了保险以后看病全报销，结果什么都"
         "不给报，大家都很气愤。"),
    Case("B12", "claims", "1987-07-17", 9000, "web", False, "",
         "手机碎屏险申请维修被拒，理由是人为损坏，但购买时说的是意外损坏都能保，客服态度还"
         "特别差。"),
    Case("B13", "payment_refund", "1999-09-09", 99, "partner_api", False, "",
         "我在APP上买了一份99元的旅游意外险，行程取消后申请退款，页面一直显示处理中，"
         "已经两周了。"),
    Case("B14", "surrender", "1953-10-10", 10000, "web", True, "elderly",
         "我年纪大了看不懂这些保险，想把保险退了把钱拿回来养老，儿子在外地，保险公司说必须"
         "本人带身份证去很远的分公司办理。"),
    Case("B15", "claims", "1984-04-24", 35000, "web", False, "media regulator repeat",
         "我之前已经投诉过一次了，保险公司说会重新核赔，结果又是拒赔，理由还是那个既往症，"
         "我已经向市场监管部门和媒体反映了。"),
    Case("B16", "other", "1992-06-30", 0, "web", False, "",
         "你们平台能不能帮我看看我这份合同里的保障责任都有哪些？"),
    Case("B17", "premium_renewal", "1989-01-31", 0, "web", False, "",
         "我一直按时交保费，这次因为银行卡换了没扣款成功，保险公司也没通知我，现在说保单已"
         "经失效了不能恢复。"),
    Case("B18", "claims", "1977-12-25", 6000, "web", False, "",
         "家里被盗报了警，家财险申请赔偿，保险公司要求提供派出所的立案证明，派出所说不给开"
         "，保险公司就说没法赔。"),
    Case("C01", "claims", "1971-03-08", 68000, "web", False, "",
         "我妻子今年三月份突发脑梗，住了二十多天ICU，花费六万八。我们买的是某公司的百万"
         "医疗，出院后把所有单据都寄过去了，对方说需要调取既往病历，已经三个月了还在调查，"
         "问就是让等通知。"),
    Case("C02", "surrender", "1988-08-08", 15000, "web", False, "",
         "这份保险是朋友推荐的，交了两年实在交不起了，打电话说要退，对方一直劝我不要退，说"
         "退了损失很大，就是不给我办理，我坚持要退。"),
    Case("C03", "mis_selling", "1963-05-05", 200000, "web", True, "elderly high_amount",
         "2019年在邮政储蓄存钱时，工作人员说有个产品利率比定期高，我就签了字。今年到期"
         "去取，才知道是二十年的终身寿险，钱取不出来。我一个退休工人，一辈子的积蓄全在里面"
         "了。"),
    Case("C04", "payment_refund", "1990-09-12", 1280, "web", False, "",
         "理赔结果出来了，同意赔付1280元，但是说好的五个工作日内打款，现在一个月了都没"
         "有收到这笔钱。"),
    Case("C05", "privacy", "1986-06-16", 0, "web", False, "",
         "我只是在网上填了一个免费领取保险的页面，结果第二天开始每天都有七八个电话打来推销"
         "各种保险，还有人加我微信，请查一下是谁泄露的。"),
    Case("C06", "call_back", "1992-02-22", 0, "web", False, "",
         "购买时根本没有做回访，公司系统里却显示回访成功，录音里的声音也不是我本人，这是伪"
         "造的。"),
    Case("C07", "premium_renewal", "1948-12-01", 4300, "web", True, "elderly",
         "老伴的住院医疗保险每年续一次，今年续保通知里保费从一千多变成四千三，我们退休金一"
         "个月才三千多，根本负担不起。"),
    Case("C08", "service", "1994-03-14", 0, "web", False, "",
         "打了十几次客服电话，每次接的人都不一样，每个人说的处理方法都不同，最后还把我的工"
         "单给关闭了，说已经解决，可问题根本没解决。"),
    Case("C09", "claims", "1982-11-02", 260000, "regulator_referral", False,
         "high_amount regulator",
         "消费者称其父亲因意外身故，保险公司以酒后驾驶为由拒绝给付身故保险金26万元，消费"
         "者对此有异议，称交警认定书中并无饮酒记录。"),
    Case("C10", "mis_selling", "1985-10-20", 36000, "web", False, "emotion",
         "代理人当初说这款重疾险返还型的，满期能把交的钱全部拿回来，还多给百分之二十，合同"
         "里根本没有这个约定，明显是忽悠人，我要求全额退保。"),
    Case("C11", "claims", "1978-04-30", 5600, "web", False, "emotion",
         "孩子住院，医保报销后自费部分五千六，按照合同应该是可以赔的，保险公司却说要扣除社"
         "保外用药，只赔了八百多，这是什么道理？？"),
    Case("C12", "payment_refund", "1997-07-07", 45, "partner_api", False, "",
         "我明明已经取消了这个会员附送的保险，每个月还是被扣45块钱，已经扣了半年了，要求"
         "把多扣的钱退给我。"),
    Case("C13", "claims", "1960-01-20", 16000, "web", True, "elderly",
         "我今年六十五岁了，种地时不小心被农机伤了手，做了手术，农村意外险报案后一直没人来"
         "处理，乡里其他几个出事的人也都没赔到钱。"),
    Case("C14", "service", "1983-05-19", 0, "web", False, "",
         "想变更保单的缴费银行卡，线上提交了三次都被驳回，也不告诉原因，去营业厅又说要预约"
         "，预约电话一直占线。"),
    Case("C15", "mis_selling", "1958-07-07", 100000, "web", True, "elderly high_amount litigation",
         "银行理财经理说这个是银行自己的理财产品，保证年化4.5%，我把十万块定期转了进去"
         "，后来银行说这是保险公司的产品，跟他们无关。我要去法院告他们。"),
    Case("C16", "claims", "1991-12-31", 3200, "web", False, "media",
         "航班延误了四个小时，买了航班延误险，申请理赔时说要航空公司开的延误证明，可航空公"
         "司说只能在APP上截图，保险公司不认。已经在微博上发帖曝光了。"),
    Case("C17", "other", "1980-02-29", 0, "web", False, "",
         "想了解一下你们平台的调解是不是免费的，需要准备哪些东西？"),
    Case("C18", "surrender", "1975-09-30", 60000, "web", False, "",
         "我在犹豫期第十天提出退保，按规定应该全额退还保费，保险公司却只同意按现金价值退，"
         "说犹豫期已经过了，可合同上写的是十五天。"),
    Case("C19", "claims", "1969-08-15", 30000, "web", False, "group litigation",
         "我在XX保险买的团体意外险，单位好几个同事都出了险，理赔都被各种理由拒绝，我们几"
         "个人打算一起找律师。"),
    Case("C20", "privacy", "1989-10-10", 0, "web", False, "",
         "保险公司的业务员把我的保单截图发到了朋友圈做宣传，上面有我的姓名、身份证号和手机"
         "号，我要求立即删除并道歉。"),
    Case("D01", "claims", "1984-02-10", 7800, "hotline", False, "",
         "消费者反映，其在某财险公司投保了车损险，车辆在停车场被刮蹭后申请理赔，保险公司查"
         "勘员至今未到现场，消费者多次催促无果。"),
    Case("D02", "mis_selling", "1957-11-23", 60000, "web", True, "elderly emotion",
         "去年在超市门口有人发传单，说免费体检，去了之后就给我们老年人讲课，说买他们的产品"
         "能防病养老，还送鸡蛋，我一时糊涂交了六万块，回家儿女说这是骗人的保险。"),
    Case("D03", "surrender", "1992-03-03", 9000, "web", False, "",
         "在手机银行上买的分红险，现在申请解约，系统提示需要到柜面办理，可我人在外地工作，"
         "根本回不去，能不能线上办？"),
    Case("D04", "payment_refund", "1985-06-06", 2300, "web", False, "",
         "去年退保时被告知退保款十五天内到账，结果等了两个月，其间多次联系，对方一会说财务"
         "在审核，一会说银行卡信息有误，至今分文未退。"),
    Case("D05", "premium_renewal", "1974-04-04", 2600, "web", False, "",
         "保险公司没有经过我同意就把我的保单自动续了一年，还把保额和保费都调高了，我要求恢"
         "复原来的方案。"),
    Case("D06", "claims", "1968-09-01", 420000, "web", False, "high_amount litigation",
         "我丈夫患肝癌去世，生前投保了两份终身寿险共计42万，保险公司以投保前已患病为由只"
         "退保费不给赔，我认为他们在投保时没有尽到询问义务，已委托律师准备提起诉讼。"),
    Case("D07", "privacy", "1990-01-25", 0, "web", False, "",
         "我的手机号不知道怎么被另一个人绑定在他的保单上，每个月都收到他的扣费短信和催缴通"
         "知，联系保险公司要求解绑，他们说要投保人本人来办。"),
    Case("D08", "call_back", "1959-12-12", 0, "web", True, "elderly",
         "去银行存钱被推荐了保险，签完字后业务员拿着我的手机替我接了回访电话，说这样快一点"
         "，我根本不知道回访问了什么。"),
    Case("D09", "service", "1987-05-15", 0, "web", False, "",
         "到分公司柜台办理理赔申请，被工作人员以系统故障为由拒绝受理，让我改天再来，来了三"
         "次都是一样的说法，我请了三次假。"),
    Case("D10", "claims", "1979-07-19", 12000, "web", True, "elderly regulator",
         "家里老人住院，用的是我给他买的医疗险，保险公司核赔时把进口药的费用全部剔除了，只"
         "赔了不到三千，我要求按合同足额赔付，否则就投诉到银保监局。"),
    Case("D11", "mis_selling", "1983-10-10", 18000, "web", False, "",
         "业务员为了冲业绩，帮我在投保单上勾选了身体健康，根本没问过我的病史，现在出了事保"
         "险公司说我隐瞒病情不赔，业务员也离职了找不到人。"),
    Case("D12", "claims", "1993-08-08", 850, "web", False, "",
         "宠物生病花了850元，申请理赔时被要求提供宠物医院的营业执照复印件，医院不愿意提"
         "供，保险公司就不给受理。"),
    Case("D13", "payment_refund", "1998-02-14", 600, "web", False, "",
         "退了一个网购退货运费险，但钱一直没退到我的微信钱包里，客服说已经退了，可我查不到"
         "任何记录。"),
    Case("D14", "claims", "1970-10-01", 95000, "web", False, "litigation",
         "工厂的机器设备在暴雨中被淹，企业财产险报损九万五，保险公司的公估公司拖了半年才出"
         "报告，认定损失只有两万，我们完全不能接受，老板已经说了要去法院。"),
    Case("D15", "premium_renewal", "1955-05-30", 1500, "web", True, "elderly",
         "每年自动续保的防癌险，今年突然说我超过了续保年龄不能再续了，可是当初买的时候说可"
         "以一直保到八十岁，我今年刚七十岁。"),
    Case("D16", "service", "1990-11-30", 0, "web", False, "",
         "在保险公司的小程序上想修改一下联系电话，怎么都提交不成功，在线客服让我下载另一个"
         "APP，下载后又说账号不存在，折腾了一整天。"),
    Case("D17", "claims", "1976-06-18", 30000, "web", False, "group",
         "我们同一个小区有好几户的车在地下车库被泡了，都是在同一家公司买的车险，都被以各种"
         "理由少赔或者不赔，大家准备联合起来找说法。"),
    Case("D18", "mis_selling", "1981-01-09", 50000, "web", False, "",
         "网上看到的广告说“一元保百万”，结果首月一元，第二个月起每个月扣一百多，页面上扣"
         "费规则写得很小，完全是文字游戏，我要求退还已扣的保费。"),
    Case("D19", "other", "1972-07-27", 0, "web", False, "",
         "我父亲去世了，不知道他生前买过哪些保险，请问怎么查询？"),
    Case("D20", "claims", "1995-04-21", 4600, "web", False, "media repeat",
         "这已经是我第二次来你们平台反映了，上次调解后保险公司答应两周内赔付，到现在都没兑"
         "现，再拖下去我就只能向媒体求助了。"),
    Case("E01", "claims", "1986-03-12", 2200, "web", False, "",
         "骑电动车摔了一跤，牙齿磕断两颗，种牙花了两千二，意外险条款里写了意外导致的牙齿损"
         "伤可以保，现在却说种牙不属于治疗范围。"),
    Case("E02", "surrender", "1979-12-05", 25000, "web", False, "",
         "我觉得这个保险不适合我，想终止合同把剩下的钱拿回来，保险公司说现在终止只能拿回很"
         "少一部分，还不如继续交，我不同意。"),
    Case("E03", "mis_selling", "1954-06-01", 40000, "hotline", True, "elderly",
         "来电人称，其母亲八十岁，被保险代理人以‘国家补贴养老金’的名义引导购买了年金保险"
         "，代理人还冒充社保局工作人员，家属要求撤销合同并追究代理人责任。"),
    Case("E04", "payment_refund", "1990-07-15", 3300, "web", False, "",
         "保险公司承认理赔款算错了，答应补给我三千三，结果这个月又说要走审批流程，催了好几"
         "次还是没有转过来。"),
    Case("E05", "premium_renewal", "1977-02-28", 7200, "web", False, "",
         "我的重疾险原来每年交三千六，今年到了缴费日突然扣了七千二，客服说是因为我体检有结"
         "节被加费了，可是续期为什么要重新核保？"),
    Case("E06", "privacy", "1995-05-20", 0, "web", False, "",
         "保险公司给我打电话推销时，直接说出了我刚在医院做的检查项目，我的病历信息他们是从"
         "哪里得到的？"),
    Case("E07", "call_back", "1962-08-18", 0, "web", True, "elderly",
         "我不会用智能手机，投保后收到一条短信让点链接完成回访，我点不明白，女儿帮我点完就"
         "算通过了，根本没人给我解释过合同内容。"),
    Case("E08", "service", "1983-09-09", 0, "web", False, "",
         "投诉之后给我打电话的专员说话阴阳怪气，还说‘你爱去哪投诉就去哪投诉’，这种服务态"
         "度让人没法接受。"),
    Case("E09", "claims", "1973-04-16", 150000, "web", False, "high_amount",
         "我在工地干活时从三楼摔下来，腰椎骨折，鉴定为九级伤残，团体意外险的伤残保险金应该"
         "有十五万，保险公司说我们单位投保的工种不对，只肯赔三成。"),
    Case("E10", "mis_selling", "1982-05-05", 100000, "web", False, "high_amount media",
         "销售经理说这个产品三年后收益能翻倍，还给我看了别人的收益截图，现在五年了账户价值"
         "还不到本金，我觉得他们就是虚假宣传，已经在小红书上发了避坑帖子。"),
    Case("E11", "claims", "1988-01-30", 18000, "web", False, "",
         "我老婆剖腹产住院花了一万八，生育险报销后剩下的部分按医疗险申请，保险公司说生孩子"
         "不在保障范围，可销售时没人说过这个。"),
    Case("E12", "payment_refund", "1993-12-24", 120, "partner_api", False, "",
         "买机票时被默认勾选了一份航空意外险，120元，起飞前我就申请取消了，到现在钱也没"
         "退回来。"),
    Case("E13", "claims", "1964-10-10", 8000, "web", True, "elderly emotion",
         "我今年刚满60岁，去年在体检中心查出甲状腺结节，做了手术，保险公司审了两个月说资"
         "料不全，让我补交了几次，每次都有新的要求，我真是受够了。"),
    Case("E14", "surrender", "1989-06-06", 5000, "web", False, "",
         "我在犹豫期内就提出不要这份保险了，业务员一直拖着不给我办，过了犹豫期再退就要扣很"
         "多钱，这不是故意的吗？"),
    Case("E15", "mis_selling", "1975-03-03", 30000, "web", False, "group",
         "我们村有三十多位村民都是在同一个人手里买的保险，他说这是新农合的补充，不交的话新"
         "农合就没用了，大家都信了，现在才知道是商业保险。"),
    Case("E16", "other", "1984-08-08", 0, "web", False, "",
         "请问调解需要我本人到场吗？我在国外，能不能委托家人处理？"),
    Case("E17", "privacy", "1991-03-21", 0, "web", False, "",
         "前几天保险公司的理赔员把我的诊断证明拍照发到了他们的客户群里，群里有两百多人，我"
         "的病情现在大家都知道了。"),
    Case("E18", "claims", "1980-11-11", 65000, "web", False, "litigation",
         "货车在高速上追尾，三者险应该赔对方六万五，保险公司以我驾驶证过期三天为由拒绝赔偿"
         "，对方现在要起诉我，我只能也起诉保险公司。"),
    Case("E19", "premium_renewal", "1958-09-09", 3900, "web", True, "elderly",
         "去年保险公司打电话说我的保单可以升级，保费不变保障更多，我就同意了，结果今年扣费"
         "时发现保费涨了近一倍。"),
    Case("E20", "payment_refund", "1996-10-18", 1500, "web", False, "",
         "理赔款打到了我的银行卡，但只到账了一千五，少了三百，客服说扣了什么手续费，合同里"
         "根本没有这一条。"),
    Case("F01", "claims", "1983-07-21", 4200, "web", False, "",
         "我女儿手足口病住了五天院，花了四千二，提交理赔后保险公司让我们去医院开一个证明，"
         "医院说从来没开过这种证明，来回扯皮一个月了。"),
    Case("F02", "claims", "1969-02-17", 300000, "hotline", False, "high_amount",
         "消费者称其丈夫因心梗在家中猝死，保险公司要求做尸检才能认定是否属于意外，但人已经"
         "火化了，现在保险公司以无法确定死因为由拒付30万元。"),
    Case("F03", "surrender", "1990-05-28", 8000, "web", False, "",
         "想退掉孩子的教育金保险，APP上点了申请，被保险公司的人打电话劝了好几次，说退了"
         "很亏，到现在都没给我正式受理。"),
    Case("F04", "surrender", "1949-01-01", 30000, "web", True, "elderly",
         "我今年七十六岁，身体不好住养老院了，想把以前买的两份保险退了换点钱交住院费，儿子"
         "帮我打电话，保险公司说要我本人去办，我走不了路。"),
    Case("F05", "mis_selling", "1987-09-03", 12000, "web", False, "",
         "朋友的亲戚是保险代理人，拉我买了一份保险，说是交满五年就能全部取出来还有收益，现"
         "在我要取钱，公司说要到六十岁才能领。"),
    Case("F06", "mis_selling", "1951-04-14", 200000, "web", True, "elderly high_amount litigation",
         "我父亲七十多岁，被银行的客户经理带到贵宾室，让他在一堆文件上签字，说是把定期存款"
         "转成利息更高的大额存单，后来才知道买了二十万的保险。我们已经报警了，也请了律师。"),
    Case("F07", "call_back", "1991-11-19", 0, "web", False, "",
         "回访人员问我有没有收到合同，我说没有收到，她说先按收到处理，以后再寄给我，结果到"
         "现在也没寄。"),
    Case("F08", "call_back", "1985-06-30", 0, "web", False, "",
         "我根本没接到过任何回访电话，可是公司说回访记录显示我已经确认了所有条款，要求调取"
         "回访录音。"),
    Case("F09", "payment_refund", "1994-01-08", 2880, "partner_api", False, "",
         "保险公司已经同意全额退费2880元，说三天内原路退回，现在十天了，支付宝里还是没"
         "有这笔钱。"),
    Case("F10", "payment_refund", "1980-12-12", 640, "web", False, "",
         "我的车险在这家公司续保了，结果另一家公司也从我卡里扣了一年的保费640元，我根本"
         "没在他们家投保，要求把钱退给我。"),
    Case("F11", "premium_renewal", "1966-06-06", 0, "web", False, "",
         "收到通知说我的长期医疗险明年停止续保，可是当时买的时候说保证续保二十年，现在刚第"
         "三年。"),
    Case("F12", "premium_renewal", "1953-03-03", 6800, "web", True, "elderly",
         "我和老伴的医疗险每年续保保费都在涨，今年两个人加起来要六千八，问了几次都说是按年"
         "龄段调整的，我们就靠退休金生活，实在交不起了。"),
    Case("F13", "privacy", "1992-08-25", 0, "web", False, "",
         "我注销了保险公司的APP账号，要求删除我的所有个人数据，但现在还是不停收到他们的"
         "营销短信。"),
    Case("F14", "privacy", "1979-10-31", 0, "web", False, "",
         "保险公司在没有告诉我的情况下，把我的理赔资料和病历转给了第三方健康管理公司，那家"
         "公司现在天天给我打电话。"),
    Case("F15", "service", "1988-04-12", 0, "web", False, "",
         "在线客服回复都是固定话术，根本解决不了问题，要求转人工就说人工客服繁忙，留了电话"
         "说二十四小时内回电，三天了也没人打过来。"),
    Case("F16", "service", "1971-09-09", 0, "web", True, "elderly",
         "理赔员上门查勘时对我老母亲大吼大叫，说她是骗保，老人家吓得好几天睡不着，我要求公"
         "司道歉并处理这个员工。"),
    Case("F17", "claims", "1986-12-20", 70000, "web", False, "group regulator",
         "我们公司十几名员工的团体医疗险，今年都被拒赔了，理由是保单已经欠费，可是公司一直"
         "按时交费，我们联合起来向金融监管局反映了这个问题。"),
    Case("F18", "claims", "1997-03-15", 500, "web", False, "emotion",
         "手机屏幕碎了申请理赔，保险公司要求寄到指定的维修点，来回运费比维修费还贵，太坑人"
         "了。"),
    Case("F19", "other", "1990-10-10", 0, "web", False, "",
         "我想问问，如果和保险公司调解不成功，还可以去哪里解决？"),
    Case("F20", "other", "1985-01-15", 0, "web", False, "",
         "我的保单受益人写的是我前妻，离婚后想改成我的孩子，需要什么手续？"),
    Case("G01", "claims", "1982-03-09", 23000, "web", False, "",
         "去年12月父亲脑出血住院，花了2.3万元，我们按要求把发票和出院小结都交了，保险"
         "公司说要核实，至今快两个月没有任何答复。"),
    Case("G02", "surrender", "1950-08-08", 12000, "web", True, "elderly",
         "我今年75岁了，三年前被推荐买了一份万能险，现在看病需要钱想退保，保险公司说要扣"
         "掉一大笔费用，只能拿回一半。"),
    Case("G03", "mis_selling", "1978-11-11", 60000, "web", False, "regulator",
         "业务员推销时说这是一款存款类产品，年年有分红，五年后本息全返，我就存了6万。现在"
         "五年到了，公司说要交满十年，前面的分红也没有当初说的那么多，我要向银保监会举报这"
         "个业务员。"),
    Case("G04", "call_back", "1993-06-18", 0, "web", False, "",
         "回访电话里客服念了一大段条款，语速非常快，问我有没有听明白，我说没听懂，她说那我"
         "再给您简单说一下，然后又飞快地念了一遍就挂了。"),
    Case("G05", "payment_refund", "1989-02-02", 1600, "web", False, "",
         "保险公司确认多收了我1600元保费，同意退款，但要求我提供一大堆证明材料，提交了"
         "以后又说财务在走流程，钱一直没有退回来。"),
    Case("G06", "premium_renewal", "1962-12-30", 5100, "regulator_referral", True,
         "elderly regulator",
         "12378转办：消费者反映其防癌医疗险到期后续保，保险公司未提前告知费率调整，今"
         "年保费由2300元上涨至5100元，消费者要求说明依据。"),
    Case("G07", "privacy", "1990-06-06", 0, "web", False, "",
         "刚在保险公司官网上做了一个保费测算，填了手机号，马上就接到好几个陌生号码的推销电"
         "话，怀疑他们把我的信息卖给了别人。"),
    Case("G08", "service", "1984-04-04", 0, "web", False, "",
         "为了办一个简单的保单信息变更，客服让我先下载APP，APP上又提示去柜台，柜台说"
         "要预约，前前后后跑了三趟还没办成。"),
    Case("G09", "claims", "1975-05-15", 180000, "web", False, "high_amount litigation",
         "我去年确诊乳腺癌，重疾险保额18万，保险公司以投保时没有告知乳腺结节为由拒绝赔付"
         "，可我投保时根本不知道自己有结节。我已经找了律师，准备起诉。"),
    Case("G10", "mis_selling", "1983-09-19", 40000, "web", False, "group",
         "我们村有十几户人家都被同一个业务员推销了这种保险，他说交三年就能返本还有收益，现"
         "在大家都取不出钱，很多人都很着急，我们已经准备一起去投诉。"),
    Case("G11", "claims", "1991-07-07", 3100, "web", False, "emotion",
         "骑车上班路上被撞伤，意外医疗险理赔被拒，理由是我是骑电动车上班属于职业风险，这是"
         "什么道理？保险公司太欺负人了！"),
    Case("G12", "claims", "1986-10-10", 9000, "web", False, "media repeat",
         "这是我第二次投诉了，上次投诉后保险公司说会重新审核我的住院理赔，结果一个月过去还"
         "是拒赔，我已经在微博上发了帖子曝光。"),
    Case("G13", "surrender", "1981-01-18", 7000, "web", False, "",
         "我在犹豫期内申请退保，保险公司说要扣除工本费，合同里根本没有这个规定。"),
    Case("G14", "payment_refund", "1995-11-25", 300, "web", False, "",
         "我已经退保成功了，可是下个月保险公司又从我的微信里扣了300元保费，要求退还。"),
    Case("G15", "mis_selling", "1958-02-20", 80000, "web", True, "elderly",
         "我母亲今年67岁，被银行工作人员误导买了一份分红保险，对方说是理财产品保本保息，"
         "现在母亲急需用钱看病，却只能退很少的钱。"),
]
# fmt: on


@pytest.mark.parametrize("case", HELD_OUT, ids=[c.id for c in HELD_OUT])
def test_held_out_complaint(case: Case) -> None:
    result = triage(
        TriageInput(
            text=case.text,
            received_on=RECEIVED,
            amount_cny=case.amount_cny,
            birth_date=date.fromisoformat(case.birth_date),
            channel=case.channel,
        ),
        RULES,
    )
    assert result.suggested_category == case.category
    assert result.signals == frozenset(case.signals.split())
    assert result.care_priority is case.care


def test_held_out_set_is_varied() -> None:
    assert len(HELD_OUT) >= 15
    assert {c.category for c in HELD_OUT} == set(Category)
    assert {s for c in HELD_OUT for s in c.signals.split()} == set(REQUIRED_SIGNALS)


# --- Category ---------------------------------------------------------------------------------


def test_form_category_is_kept_and_the_suggestion_reported_separately() -> None:
    text = "保险公司以未如实告知为由拒赔，我要求按合同赔付。"
    result = triage(
        TriageInput(text=text, received_on=RECEIVED, form_category=Category.SERVICE), RULES
    )
    assert result.category is Category.SERVICE
    assert result.suggested_category is Category.CLAIMS
    assert result.suggestion_differs
    by_name = triage(TriageInput(text=text, received_on=RECEIVED, form_category="service"), RULES)
    assert by_name.category is Category.SERVICE
    without_form = triage(TriageInput(text=text, received_on=RECEIVED), RULES)
    assert without_form.category is Category.CLAIMS and not without_form.suggestion_differs


def test_category_scores_are_explained() -> None:
    result = judge("退保申请审核通过了，说好3个工作日到账，钱还没有退回来。")
    assert result.suggested_category is Category.PAYMENT_REFUND
    scores = dict(result.category_scores)
    assert scores[Category.PAYMENT_REFUND] > scores[Category.SURRENDER] > 0
    assert result.category_scores[0][0] is Category.PAYMENT_REFUND
    phrases = {h.phrase for h in result.category_hits if h.category is Category.PAYMENT_REFUND}
    assert "到账" in phrases
    assert (
        sum(h.weight for h in result.category_hits if h.category is Category.SURRENDER)
        == (scores[Category.SURRENDER])
    )


def test_text_without_evidence_is_other() -> None:
    result = judge("你好，请问怎么联系你们？")
    assert result.suggested_category is Category.OTHER
    assert result.risk_score == 0 and result.reasons == ()


# --- Risk -------------------------------------------------------------------------------------


def test_risk_is_the_sum_of_the_reasons_with_their_evidence() -> None:
    result = judge("我已经请了律师，也会找媒体曝光。", amount_cny=250_000)
    by_signal = {r.signal: r for r in result.reasons}
    assert set(by_signal) == {"litigation", "media", "high_amount"}
    assert by_signal["litigation"].evidence == "律师"
    assert by_signal["media"].evidence == "媒体"
    assert by_signal["high_amount"].evidence == "amount 250000 CNY >= 100000"
    assert by_signal["litigation"].label
    assert result.risk_score == sum(r.weight for r in result.reasons)
    assert result.risk_score == sum(RULES.signal(s).weight for s in by_signal)


def test_risk_is_capped_at_100() -> None:
    text = (
        "这是我第三次投诉了！！我们小区二十多位老人都被骗了，已经向金融监管总局反映，"
        "也找了记者，准备请律师起诉，大家都很愤怒。"
    )
    result = judge(text, amount_cny=300_000)
    assert result.signals == frozenset(REQUIRED_SIGNALS)
    assert sum(r.weight for r in result.reasons) > 100
    assert result.risk_score == 100


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("我不想打官司，只想尽快拿到钱。", "litigation"),
        ("我们没有找媒体，希望协商解决。", "media"),
        ("我从未向监管部门投诉过。", "regulator"),
        ("我以前从没投诉过任何公司。", "repeat"),
    ],
)
def test_negated_mentions_do_not_count(text: str, signal: str) -> None:
    assert signal not in judge(text).signals


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("再不处理就向监管投诉。", "regulator"),
        ("不得不起诉了。", "litigation"),
        ("如果不解决我就找媒体曝光。", "media"),
        ("已经在抖音上发了视频。", "media"),
        ("12378热线转来的投诉。", "regulator"),
        ("我们村有三十多户人家都买了这个保险。", "group"),
        ("我打算和其他人一起投诉。", "group"),
        ("这是我再次投诉这个问题。", "repeat"),
    ],
)
def test_mentions_that_count(text: str, signal: str) -> None:
    assert signal in judge(text).signals


def test_buying_on_a_video_platform_is_not_media_exposure() -> None:
    assert "media" not in judge("在抖音直播间买了一份医疗险，主播说没有等待期。").signals


def test_regulator_referral_channel_raises_the_regulator_signal() -> None:
    result = judge("消费者反映保费扣错了。", channel="regulator_referral")
    (reason,) = result.reasons
    assert reason.signal == "regulator"
    assert reason.evidence == "received through channel regulator_referral"


@pytest.mark.parametrize(
    ("text", "elderly"),
    [
        ("我母亲今年七十二岁，看不懂合同。", True),
        ("我父亲68岁了，摔伤住院。", True),
        ("她今年已经六十多岁了。", True),
        ("我是一名退休老教师。", True),
        ("当初说可以保证续保到80岁。", False),
        ("我今年45岁，孩子3岁。", False),
        ("XX养老人寿的客服不接电话。", False),
    ],
)
def test_elderly_from_the_text(text: str, elderly: bool) -> None:
    assert ("elderly" in judge(text).signals) is elderly


def test_elderly_and_care_from_the_birth_date() -> None:
    # 60 on the day of the complaint: elderly and care priority; one day younger: neither.
    sixty = judge("理赔一直没有结果。", birth_date=date(1965, 6, 1))
    assert sixty.age == 60 and sixty.care_priority and sixty.care_reason == "aged 60"
    assert "elderly" in sixty.signals
    younger = judge("理赔一直没有结果。", birth_date=date(1965, 6, 2))
    assert younger.age == 59 and not younger.care_priority and "elderly" not in younger.signals


def test_care_when_requested_but_not_for_elderly_words_alone() -> None:
    asked = judge("请帮我处理退保。", care_requested=True, birth_date=date(1990, 1, 1))
    assert asked.care_priority and asked.care_reason == "requested by the consumer"
    relative = judge("我们小区好多老人都被骗了。", birth_date=date(1980, 6, 16))
    assert "elderly" in relative.signals and not relative.care_priority


def test_age_on_a_leap_day_birthday() -> None:
    assert age_on(date(1964, 2, 29), date(2024, 2, 28)) == 59
    assert age_on(date(1964, 2, 29), date(2024, 2, 29)) == 60
    assert age_on(date(1964, 2, 29), date(2025, 3, 1)) == 61


def test_high_amount_threshold_and_amounts_in_the_text() -> None:
    assert "high_amount" in judge("理赔被拒。", amount_cny=100_000).signals
    assert "high_amount" not in judge("理赔被拒。", amount_cny=99_999).signals
    # Without a stated amount the text is read; with one, the stated amount wins.
    from_text = judge("仓库失火损失了12万，保险公司拒赔。")
    assert "high_amount" in from_text.signals
    assert {r.signal: r.evidence for r in from_text.reasons}["high_amount"] == "12万"
    assert (
        "high_amount"
        not in judge("保额50万的重疾险，这次理赔3000元被拒。", amount_cny=3000).signals
    )


def test_repeat_from_the_consumers_earlier_complaints() -> None:
    result = judge("理赔还是没有结果。", earlier_complaints=2)
    assert {r.signal: r.evidence for r in result.reasons} == {
        "repeat": "2 earlier complaints by this consumer"
    }
    assert "repeat" not in judge("理赔还是没有结果。").signals


def test_full_width_text_is_matched() -> None:
    assert "regulator" in judge("我已拨打１２３７８热线。").signals


def test_triage_is_deterministic() -> None:
    fields = {"amount_cny": 80_000, "birth_date": date(1950, 1, 1), "channel": "web"}
    text = "我父亲今年75岁，重疾险理赔被拒，我们准备找律师起诉，也会找媒体曝光！！"
    assert judge(text, **fields) == judge(text, **fields)


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("72", 72),
        ("六十", 60),
        ("七十二", 72),
        ("十", 10),
        ("一百零二", 102),
        ("两", 2),
        ("岁", None),
    ],
)
def test_parse_number(word: str, value: int | None) -> None:
    assert parse_number(word) == value


def test_input_is_validated() -> None:
    with pytest.raises(ValidationFailed) as err:
        TriageInput(text="x", received_on=RECEIVED, amount_cny=-1)
    assert err.value.details == {"field": "amount_cny"}
    with pytest.raises(ValidationFailed):
        TriageInput(text="x", received_on=RECEIVED, birth_date=date(2030, 1, 1))
    with pytest.raises(ValidationFailed):
        TriageInput(text="x", received_on=RECEIVED, earlier_complaints=-1)
    with pytest.raises(ValidationFailed):
        TriageInput(text="x", received_on=RECEIVED, form_category="refunds")


# --- Rules ------------------------------------------------------------------------------------


def test_packaged_rules() -> None:
    assert RULES.version
    assert {c for c, _ in RULES.category_keywords} == set(Category) - {Category.OTHER}
    assert all(patterns for _, patterns in RULES.category_keywords)
    assert {s.name for s in RULES.signals} >= set(REQUIRED_SIGNALS)
    assert RULES.care_age == 60 and RULES.elderly_age == 60
    assert RULES.similarity.num_perm % RULES.similarity.bands == 0


def test_an_override_file_changes_only_what_it_names(tmp_path: Path) -> None:
    override = tmp_path / "triage.toml"
    override.write_text(
        "[thresholds]\nhigh_amount_cny = 50000\n\n"
        "[category.keywords.claims]\n'理赔' = 0\n\n"
        "[signals.media]\npatterns = ['自媒体']\n",
        encoding="utf-8",
    )
    rules = load_rules(override)
    assert rules.high_amount_cny == 50_000
    assert rules.care_age == RULES.care_age
    assert rules.signal("media").patterns[0].pattern == "自媒体"
    claims = dict(rules.category_keywords)[Category.CLAIMS]
    assert "理赔" not in {p.pattern.pattern for p in claims}
    assert len(claims) == len(dict(RULES.category_keywords)[Category.CLAIMS]) - 1
    result = triage(TriageInput(text="理赔", received_on=RECEIVED, amount_cny=60_000), rules)
    assert result.signals == {"high_amount"}


def test_overrides_from_configuration_mapping() -> None:
    rules = load_rules(overrides={"thresholds": {"care_age": 65}})
    assert rules.care_age == 65
    assert merge_rules({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}) == {"a": {"b": 1, "c": [2]}}


def test_unreadable_or_invalid_rules_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed):
        load_rules(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[thresholds\n", encoding="utf-8")
    with pytest.raises(ValidationFailed):
        load_rules(broken)


def _rules_with(change: dict[str, object]) -> TriageRules:
    return TriageRules.from_mapping(merge_rules(packaged_rules_data(), change))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": {"keywords": {"refunds": {"退款": 3}}}}, "category.keywords.refunds"),
        ({"category": {"keywords": {"claims": {"理赔(": 3}}}}, "category.keywords.claims.理赔("),
        ({"category": {"keywords": {"claims": {"理赔": 101}}}}, "category.keywords.claims.理赔"),
        ({"signals": {"media": {"weight": "high"}}}, "signals.media.weight"),
        ({"signals": {"media": {"patterns": "媒体"}}}, "signals.media.patterns"),
        ({"signals": {"elderly": {"age_patterns": ["岁"]}}}, "signals.elderly.age_patterns"),
        ({"thresholds": {"care_age": 0}}, "thresholds.care_age"),
        ({"thresholds": {"high_amount_cny": -5}}, "thresholds.high_amount_cny"),
        ({"similarity": {"bands": 60}}, "similarity.bands"),
        ({"clusters": {"window_days": 0}}, "clusters.window_days"),
        ({"negation": {"pattern": "("}}, "negation.pattern"),
    ],
)
def test_invalid_rules_name_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        _rules_with(change)
    assert err.value.details["field"] == field


def test_rules_must_define_every_required_signal() -> None:
    data = packaged_rules_data()
    del data["signals"]["group"]
    with pytest.raises(ValidationFailed) as err:
        TriageRules.from_mapping(data)
    assert err.value.details["field"] == "signals"


# --- Duplicates (same consumer, insurer and policy) ---------------------------------------------


def _case(
    case_id: str,
    consumer: str = "c1",
    insurer: str = "安康人寿",
    policies: tuple[str, ...] = ("AK2023100188",),
    is_open: bool = True,
) -> CaseRef:
    return CaseRef(case_id, consumer, insurer, frozenset(policies), is_open)


def test_same_policy_open_case_rule() -> None:
    cases = [
        _case("closed", is_open=False),
        _case("other-consumer", consumer="c2"),
        _case("other-insurer", insurer="华信财险"),
        _case("other-policy", policies=("AK999",)),
        _case("first"),
        _case("second", policies=("X1", "ak-2023 100188")),
    ]
    found = same_policy_open_cases(
        consumer_id="c1", insurer=" 安康人寿", policy_numbers=["AK2023100188"], cases=cases
    )
    assert [c.case_id for c in found] == ["first", "second"]
    assert (
        same_policy_open_cases(consumer_id="c1", insurer="安康人寿", policy_numbers=[], cases=cases)
        == []
    )
    assert normalise_policy_no("ａｋ-2023 100188") == "AK2023100188"


def test_duplicate_links_strongest_first_each_id_once() -> None:
    links = duplicate_links(
        [_case("S01")],
        [Candidate("S01", 0.5, True), Candidate("S07", 0.31, True)],
    )
    assert [(link.of, link.reason) for link in links] == [
        ("S01", DuplicateReason.SAME_POLICY_OPEN_CASE),
        ("S07", DuplicateReason.NEAR_DUPLICATE_TEXT),
    ]
    assert links[1].similarity == 0.31
    assert duplicate_links([], []) == ()

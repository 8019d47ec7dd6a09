"""The words a generated company is made of: people's names, provinces, cities, customers.

Plain data, kept apart from the generators so that they read as rules. Every name is
fictitious; the pinyin beside each character makes ids and e-mail addresses readable
(``rep-chen-xiaoming``, ``xiaoming.chen@kangtuo-med.example.com``).
"""

from __future__ import annotations

from typing import Final


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: (character, pinyin): the common surnames, the most common first.
SURNAMES: Final = tuple(
    tuple(pair.split(":"))
    for pair in _words(
        "王:wang 李:li 张:zhang 刘:liu 陈:chen 杨:yang 黄:huang 赵:zhao 吴:wu 周:zhou 徐:xu "
        "孙:sun 马:ma 朱:zhu 胡:hu 郭:guo 何:he 林:lin 罗:luo 高:gao 梁:liang 郑:zheng 谢:xie "
        "宋:song 唐:tang 许:xu 邓:deng 冯:feng 韩:han 曹:cao 曾:zeng 彭:peng 萧:xiao 蔡:cai "
        "潘:pan 田:tian 董:dong 袁:yuan 于:yu 余:yu 叶:ye 蒋:jiang 杜:du 苏:su 魏:wei 程:cheng "
        "吕:lv 丁:ding 沈:shen 任:ren 姚:yao 卢:lu 钟:zhong 姜:jiang 崔:cui 谭:tan 陆:lu 范:fan "
        "汪:wang 廖:liao 石:shi 金:jin 韦:wei 贾:jia 夏:xia 付:fu 方:fang 邹:zou 熊:xiong "
        "白:bai 孟:meng 秦:qin 邱:qiu 侯:hou 江:jiang 尹:yin 薛:xue 段:duan 雷:lei 龙:long "
        "黎:li 史:shi 陶:tao 贺:he 毛:mao 郝:hao 顾:gu 龚:gong 邵:shao 万:wan 覃:qin 钱:qian "
        "戴:dai 严:yan 莫:mo 孔:kong 向:xiang 常:chang"
    )
)

#: (character, pinyin) for given names.
GIVEN: Final = tuple(
    tuple(pair.split(":"))
    for pair in _words(
        "伟:wei 芳:fang 娜:na 敏:min 静:jing 丽:li 强:qiang 磊:lei 军:jun 洋:yang 勇:yong "
        "艳:yan 杰:jie 娟:juan 涛:tao 明:ming 超:chao 秀:xiu 霞:xia 平:ping 刚:gang 英:ying "
        "华:hua 建:jian 文:wen 辉:hui 玲:ling 鹏:peng 宇:yu 浩:hao 婷:ting 雪:xue 琳:lin "
        "晨:chen 欣:xin 博:bo 志:zhi 海:hai 燕:yan 晓:xiao 佳:jia 俊:jun 斌:bin 凯:kai "
        "颖:ying 倩:qian 慧:hui 鑫:xin 飞:fei 思:si 嘉:jia 子:zi 睿:rui 航:hang 瑶:yao "
        "毅:yi 坤:kun 锋:feng 亮:liang 新:xin 国:guo 红:hong 春:chun 立:li 荣:rong 德:de "
        "玉:yu 成:cheng 兰:lan 梅:mei 琴:qin 蓉:rong 琪:qi 振:zhen 昊:hao 然:ran 宁:ning"
    )
)

#: The six provinces of South China the company covers (华南6省): code, name, cities.
PROVINCES: Final = (
    ("gd", "广东", "广州 深圳 东莞 佛山 珠海 汕头 惠州 中山 江门 湛江 茂名 肇庆 梅州 韶关"),
    ("gx", "广西", "南宁 柳州 桂林 梧州 北海 玉林 百色 钦州 贵港 河池"),
    ("fj", "福建", "福州 厦门 泉州 漳州 莆田 三明 龙岩 宁德 南平"),
    ("hn", "湖南", "长沙 株洲 湘潭 衡阳 岳阳 常德 郴州 邵阳 益阳 永州 怀化 娄底"),
    ("jx", "江西", "南昌 赣州 九江 上饶 宜春 吉安 抚州 景德镇 萍乡 新余"),
    ("hi", "海南", "海口 三亚 儋州 琼海 文昌 万宁"),
)

NUMERALS: Final = "一二三四五六七八九十"

COMPANY_NAME: Final = "深圳康拓医疗器械有限公司"
EMAIL_DOMAIN: Final = "kangtuo-med.example.com"

#: Words for distributor names: {city}{word}{suffix}.
DISTRIBUTOR_WORDS: Final = _words(
    "康华 仁和 百汇 恒泰 瑞康 华信 安泰 嘉禾 正源 永康 德润 益康 健达 泰和 国药 "
    "博雅 同济 华润 康源 福瑞 金域 弘康 新特 九州 和平 万邦 普泽 惠仁 联合 天和"
)
DISTRIBUTOR_SUFFIXES: Final = ("医疗器械有限公司", "医疗科技有限公司", "医药有限公司")

#: End customers (hospitals, clinics): templates filled with a city and words.
HOSPITAL_KINDS: Final = (
    "{city}市第{n}人民医院",
    "{city}市中医院{branch}",
    "{city}市妇幼保健院{branch}",
    "{city}{word}医院",
    "{city}{word}口腔门诊部",
    "{city}{word}体检中心",
    "{city}{district}社区卫生服务中心",
    "{city}{district}卫生院",
    "{city}{word}康复医院",
    "{city}市第{n}人民医院{branch}",
)
HOSPITAL_WORDS: Final = _words(
    "仁爱 博爱 和美 慈铭 美年 华夏 中山 协和 长安 东方 南方 新华 阳光 爱尔 瑞尔 "
    "德康 安康 济民 万家 同仁 明德 维康 天使 友好 京都"
)
DISTRICTS: Final = _words(
    "东湖 西城 南山 北苑 城关 江南 河西 新区 高新 龙岗 滨海 开发区 老城 湖滨 桥东 沙河"
)
BRANCHES: Final = ("", "东院", "西院", "南院", "北院", "分院")

#: Devices the company sells (samples are requested for them).
PRODUCTS: Final = (
    "KT-M600 多参数监护仪",
    "KT-U80 彩色超声诊断仪",
    "KT-V30 呼吸机",
    "KT-D12 除颤监护仪",
    "KT-X5 移动DR",
    "KT-P20 输液泵",
    "KT-E9 心电图机",
    "KT-S3 电动手术床",
)

#: (id, 中文, English) of the documents sales can ask tech for, most requested first.
DOCUMENT_TYPES: Final = (
    ("ce_certification_report", "CE认证报告", "CE certification report"),
    ("installation_drawing_3d", "3D安装图", "3D installation drawing"),
    ("nmpa_registration_certificate", "医疗器械注册证", "NMPA registration certificate"),
    ("energy_test_data", "能耗测试数据", "energy test data"),
    ("operation_manual", "操作手册", "operation manual"),
    ("type_test_report", "型式检验报告", "type test report"),
    ("site_preparation_guide", "场地准备要求", "site preparation guide"),
    ("clinical_evaluation_report", "临床评价报告", "clinical evaluation report"),
    ("wiring_diagram", "电气接线图", "wiring diagram"),
)

#: The tech groups (id, name) the documents are shared among, round robin.
TECH_GROUPS: Final = (
    ("tech-regulatory", "注册与认证组"),
    ("tech-engineering", "安装与工程组"),
    ("tech-application", "临床应用组"),
    ("tech-service", "维保技术组"),
)

FOLLOW_UP_NOTES: Final = (
    "拜访设备科主任，介绍新款监护仪配置",
    "电话沟通招标进度，院方预计下月挂网",
    "与采购经理确认分期付款意向",
    "陪同经销商拜访科室，演示超声新功能",
    "微信跟进样机试用反馈，科室整体满意",
    "会议沟通年度备货计划",
    "邮件发送参数对比表，等待院方回复",
    "拜访院长办公室，了解新院区建设规划",
)
COMPETITOR_NOTES: Final = (
    "迈瑞同型号报价低8%，并承诺三年保修",
    "GE推出零首付分期方案",
    "飞利浦在做老设备以旧换新",
    "本地代理商给出额外5%返点",
    "竞品承诺48小时到货",
    "理邦低价进入社区医院市场",
)
DECISION_CHAIN_CHANGES: Final = (
    "设备科主任换人，新主任倾向国产品牌",
    "采购改为院务会集体决策，需再过一轮论证",
    "分管副院长加入决策，关注售后响应",
    "科室主任推荐权上升，采购只做商务",
    "医保控费，财务处参与评审",
)
NEXT_ACTION_TEXT: Final = {
    "send_parameter_comparison": "发送{product}参数对比表",
    "schedule_factory_visit": "预约客户参观产线与样板医院",
    "submit_installment_plan": "提交分期付款方案",
    "other": "约科室主任做产品演示",
}
SUPPORT_NEEDED: Final = (
    "请协调技术部周三前确认参数",
    "需要市场部提供临床案例",
    "请财务审批分期方案",
    "需要总监出面见院长",
    "请物流加急安排样机",
    "需要售后给出三年维保报价",
    "请法务审核合同条款",
)
TICKET_NOTES: Final = (
    "院方下周论证会要用",
    "经销商要给终端医院演示",
    "招标文件要求提供",
    "科室试用两周",
)
MISSING_ITEMS: Final = (
    "安装科室的电源规格",
    "院方要求的招标参数表",
    "样机使用科室与联系人",
    "机房尺寸图",
)
OTHER_TASK_NOTES: Final = (
    "参加区域学术会议，收集客户名片",
    "内部培训：新品监护仪",
    "整理经销商库存报表",
)
RATING_COMMENTS_LOW: Final = (
    "资料给晚了，客户差点换供应商",
    "图纸版本不对，返工一次",
    "样机到货比承诺晚一天",
)
CONCESSION_REASONS: Final = {
    "approve": _words(
        "战略客户首单，换取三年耗材合同 招标竞争激烈，总部同意让利 样板医院，带动区域销售"
    ),
    "reject": _words("让步超出授权，请先争取分期方案 毛利过低，改谈增值服务 请先确认竞品真实报价"),
}
INFO_SUPPLIED: Final = "已补充：电源220V/50Hz，机房3m×4m"
